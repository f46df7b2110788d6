# SPDX-License-Identifier: MIT
"""The lifecycle every handle of the binding shares: a library object closed by close(),
by `with`, or when the Python object is collected; a closed one says so."""


class Handle:
    """Holds the library object in self._h and the function that frees it."""

    _what = 'handle'

    def _own(self, ptr, destroy):
        self._h, self._destroy = ptr, destroy

    def close(self):
        """Frees the library object (also done by `with` and on collection)."""
        h = getattr(self, '_h', None)
        if h is not None:
            self._h = None
            self._destroy(h)
            self._closed()

    def _closed(self):
        """What a subclass lets go of with the object (buffers it kept alive)."""

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _handle(self):
        if self._h is None:
            raise ValueError('the %s is closed' % self._what)
        return self._h
