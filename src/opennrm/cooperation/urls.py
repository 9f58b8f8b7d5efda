from django.urls import URLPattern, URLResolver, include, path

app_name = "coop"

# Pages for people (transnational referrals, linkage, hub) are added by the modules that own them.
urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("opennrm.cooperation.urls_linkage")),
    path("", include("opennrm.cooperation.urls_hub")),
    path("", include("opennrm.cooperation.urls_transnational")),
]
