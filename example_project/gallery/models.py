"""A photo with an uploaded image (media)."""

from __future__ import annotations

from django.db import models
from django.urls import reverse


class Photo(models.Model):
    title = models.CharField(max_length=120)
    image = models.ImageField(upload_to="photos/%Y/%m/")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("gallery:detail", args=[self.pk])
