from django.urls import path

app_name = "referrals"

urlpatterns: list = []  # written by the referrals work
