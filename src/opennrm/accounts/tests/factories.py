from __future__ import annotations

import time

import factory
from django.test import Client

from opennrm.accounts.models import Agency, AgencyKind, Membership, User
from opennrm.accounts.roles import Role, Scope


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency

    name = factory.Sequence(lambda n: f"Agency {n}")
    kind = AgencyKind.NGO
    country = "GE"
    region = "GE-TB"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"Person{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    agency = factory.SubFactory(AgencyFactory)
    role = Role.CASE_WORKER
    scope = Scope.AGENCY


def member(role: Role, *, agency: Agency | None = None, scope: Scope = Scope.AGENCY, **kwargs) -> User:
    """A user with one active membership."""
    membership = MembershipFactory(role=role, scope=scope, agency=agency or AgencyFactory(), **kwargs)
    return membership.user


def logged_in_client(user: User, client: Client | None = None) -> Client:
    """A client whose session is fully logged in (both factors), as `accounts.views._complete_login` leaves it."""
    client = client or Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session["epoch"] = user.session_epoch
    session["last_seen"] = int(time.time())
    session.save()
    return client
