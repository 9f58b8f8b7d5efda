from django.urls import path

from opennrm.cooperation import views

app_name = "coop_inbox"

urlpatterns = [path("inbox", views.inbox, name="inbox")]
