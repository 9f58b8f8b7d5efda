from django.urls import URLPattern, URLResolver

app_name = "coop"

# Pages for people (transnational referrals, linkage, hub) are added by the modules that own them.
urlpatterns: list[URLPattern | URLResolver] = []
