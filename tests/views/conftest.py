import os

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

from refunds.roles import ROLE_PERMISSIONS


@pytest.fixture
def login():
    """login(user) → a test client logged in as that user (one client per user)."""

    def _login(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _login


def _setup_roles():
    with open(os.devnull, "w") as devnull:
        call_command("setup_roles", verbosity=0, stdout=devnull)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Create the role groups once for the session, not once per test (keeps the pages fast)."""
    with django_db_blocker.unblock():
        _setup_roles()


@pytest.fixture
def roles(db):
    """The groups were made in django_db_setup; redo it only if a flush removed them."""
    if not Group.objects.filter(name__in=list(ROLE_PERMISSIONS)).count() == len(ROLE_PERMISSIONS):
        _setup_roles()
