"""The store on MongoDB, through txmongo (asynchronous: no threads).

:mod:`~pyhss.storage.mongodb.documents` builds every filter, update and
document from records (pure functions, unit-tested without a server);
:mod:`~pyhss.storage.mongodb.store` runs them; the schema versions'
steps (indexes) are in :mod:`~pyhss.storage.mongodb.schema`.
"""
