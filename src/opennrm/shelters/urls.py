from django.urls import URLPattern

app_name = "shelters"

urlpatterns: list[URLPattern] = []  # being written
