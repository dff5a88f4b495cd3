"""What the memory store's roles share: methods that run at once and
answer with a Deferred, and paging of sorted lists."""

import functools

from twisted.internet import defer


def deferred(method):
    """Run the method now; return its result or exception as a Deferred."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        return defer.execute(method, *args, **kwargs)
    return wrapper


def page(items, offset, limit):
    """``items[offset:offset + limit]``; every item from ``offset`` when ``limit`` is None."""
    return items[offset:None if limit is None else offset + limit]
