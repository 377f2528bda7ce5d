"""Static files and media on Azure Blob Storage, and the static publisher.

``django_prodkit.storage.azure`` holds the storage classes (it needs the ``azure`` extra);
``django_prodkit.storage.headers`` the Content-Type and Cache-Control every uploaded file gets.
Nothing is imported here, so ``headers`` works without the Azure SDK installed.
"""

from __future__ import annotations
