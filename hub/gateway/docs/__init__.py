"""What the hub offers, as documents clients and portals read: ``GET /v1/catalog`` (areas,
topics with their freshness now, feeds, bridges), ``GET /catalog.jsonld`` (a DCAT-AP
catalogue that open-data portals such as CKAN harvest), ``GET /asyncapi.json`` (AsyncAPI 3 of
the topics) and ``GET /openapi.json`` (the gateway's own API).

The documents are built from the deployment on every request, by pure functions of the
deployment, the hub's addresses and the feed statuses, so a test can read them without a
server and the answer always matches what the hub runs.

One module per document (`catalog`, `dcat`, `asyncapi`; the OpenAPI document is
`hub.gateway.openapi`), on what they share (`common`, `vocabularies`); `routes` serves them.
"""
