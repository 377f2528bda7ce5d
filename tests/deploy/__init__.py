"""Tests of manage.py deployconfig and the files it renders."""

# In every test of a rendered file, the mark of a secret value that must not be in it.
PLANTED = "planted-SECRET-3f9e"
