from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id with test-sized costs: the same algorithm and encoding as production, without 100 MB per hash."""

    time_cost = 1
    memory_cost = 1024
    parallelism = 1
