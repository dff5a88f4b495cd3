"""The store contract against the in-memory adapter."""

from twisted.trial import unittest

from pyhss.storage.memory import MemoryStore
from tests.store_contract import StoreContractMixin


class MemoryStoreContractTests(StoreContractMixin, unittest.TestCase):
    def make_store(self):
        return MemoryStore()
