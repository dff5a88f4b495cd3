"""The HTTP side of ``twistd pyhss``: REST provisioning API, OpenAPI, metrics, web console.

- :mod:`pyhss.api.rest`: resources as declarations (Collection, Action,
  View) and the router serving them; :mod:`pyhss.api.resources` declares
  what is provisioned (subscribers, APN profiles);
- :mod:`pyhss.api.openapi`: the OpenAPI 3.1 document from the same declarations;
- :mod:`pyhss.api.tokens`: bearer tokens (``pyhss-admin token add``);
- :mod:`pyhss.api.metrics`: Prometheus exposition of the node's counters;
- :mod:`pyhss.api.console`: the web console (templates/, static/);
- :mod:`pyhss.api.site`: the twisted.web site putting them together;
- :mod:`pyhss.api.service`, :mod:`pyhss.api.child`, :mod:`pyhss.api.link`:
  where HTTP runs (a child process of the service, or its reactor) and the
  AMP link to the HSS process.
"""
