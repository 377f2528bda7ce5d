"""The upload form, with the size limit from settings."""

from __future__ import annotations

from django import forms
from django.conf import settings

from gallery.models import Photo


class PhotoForm(forms.ModelForm):
    class Meta:
        model = Photo
        fields = ["title", "image"]

    def clean_image(self):
        image = self.cleaned_data["image"]
        if image.size > settings.GALLERY_MAX_UPLOAD_BYTES:
            limit = settings.GALLERY_MAX_UPLOAD_BYTES // 1024
            raise forms.ValidationError(f"Images up to {limit} KiB, please.")
        return image
