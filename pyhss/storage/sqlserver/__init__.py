"""The store on a SQL server: MariaDB/MySQL, PostgreSQL and MSSQL through
SQLAlchemy Core (one set of tables and queries; the dialects carry the
differences).  :class:`~pyhss.storage.sqlserver.store.SqlStore` is the
adapter; :mod:`~pyhss.storage.sqlserver.dialects` lists the servers.
"""
