"""Pages of the gallery: list + upload, detail, a cached about page, a JSON endpoint and a
download of a photo's original file for signed-in visitors."""

from __future__ import annotations

import posixpath

from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import cache_page

from django_prodkit.protected import protected_file_response
from gallery.forms import PhotoForm
from gallery.models import Photo


def index(request):
    form = PhotoForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        photo = form.save()
        return redirect(photo)
    photos = Photo.objects.all()[:24]
    return render(request, "gallery/index.html", {"form": form, "photos": photos})


def detail(request, pk: int):
    photo = get_object_or_404(Photo, pk=pk)
    return render(request, "gallery/detail.html", {"photo": photo})


@cache_page(60)
def about(request):
    return render(request, "gallery/about.html", {"count": Photo.objects.count()})


def api_photos(request):
    photos = [
        {
            "id": photo.pk,
            "title": photo.title,
            "url": request.build_absolute_uri(photo.image.url),
            "uploaded_at": photo.uploaded_at.isoformat(),
        }
        for photo in Photo.objects.all()[:100]
    ]
    return JsonResponse({"photos": photos})


def download(request, pk: int):
    """The photo's original file, to signed-in visitors only: the view decides who may have
    it, ``protected_file_response`` delivers it the way ``PRODKIT_PROTECTED_MODE`` says
    (nginx, X-Sendfile, a SAS redirect or streamed by Django)."""
    if not request.user.is_authenticated:
        raise PermissionDenied
    photo = get_object_or_404(Photo, pk=pk)
    extension = posixpath.splitext(photo.image.name)[1]
    return protected_file_response(
        request, photo.image.name, photo.image.storage, filename=f"{photo.title}{extension}"
    )
