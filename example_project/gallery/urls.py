from __future__ import annotations

from django.urls import path

from gallery import views

app_name = "gallery"
urlpatterns = [
    path("", views.index, name="index"),
    path("photos/<int:pk>/", views.detail, name="detail"),
    path("photos/<int:pk>/download/", views.download, name="download"),
    path("about/", views.about, name="about"),
    path("api/photos/", views.api_photos, name="api-photos"),
]
