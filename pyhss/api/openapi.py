"""The OpenAPI 3.1 document, generated from the REST declarations.

Every path, parameter and schema comes from the :class:`~pyhss.api.rest.Collection`
declarations and the field rules their handlers validate with, so the
document cannot describe an API other than the one served
(``tests/test_api_openapi.py`` validates it and checks every route is in it).
"""

from pyhss.api.rest import DEFAULT_LIMIT, LIMIT, OFFSET, routes_of

VERSION = "1.0.0"

PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details; errors lists each field at fault",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {"type": "object", "properties": {
                "field": {"type": ["string", "null"], "description": "the field or query parameter; "
                                                                     "null for the whole body"},
                "problem": {"type": "string"}},
                "required": ["field", "problem"]},
        },
        "outcome": {"type": "object", "description": "what the HSS did, when it tried (502)"},
    },
    "required": ["title", "status", "detail"],
}

_ERRORS = {
    "400": "invalid input: errors names each field and its problem",
    "401": "no token, or an unknown one",
    "403": "a read-only token asked to write",
    "404": "no such record",
    "409": "the record exists (create), or others use it (delete)",
    "413": "request body larger than api.max_body",
    "415": "a body not sent as application/json",
    "502": "the HSS could not do it (the MME or S-CSCF refused, did not answer, is not connected)",
    "503": "the store is not available",
}


def _problem(status):
    return {"description": _ERRORS[status],
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _schema_name(collection, mode):
    base = collection.shape.record.__name__
    return {"read": base, "create": f"{base}Create", "replace": f"{base}Replace", "patch": f"{base}Patch",
            "change": f"{base}Changed"}[mode]


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def build_document(collections, title="pyhss HSS provisioning API", server_url="/"):
    schemas = {"Problem": PROBLEM}
    paths = {}
    for collection in collections:
        shape = collection.shape
        for mode in ("read", "create", "replace", "patch"):
            schemas[_schema_name(collection, mode)] = shape.json_schema(mode)
        schemas[_schema_name(collection, "change")] = {
            "allOf": [_ref(_schema_name(collection, "read")),
                      {"type": "object", "properties": dict(collection.notes_schema)}]}
        for view in collection.views:
            schemas[view.shape.record.__name__] = view.shape.json_schema("read")
        for route in routes_of(collection):
            paths.setdefault(route.template, {})[route.method.lower()] = _operation(collection, route)
    for template, operations in paths.items():
        if "{" in template:
            collection = next(c for c in collections if template.startswith(c.path + "/"))
            key = collection.shape.rules[collection.key]
            operations["parameters"] = [{
                "name": collection.key, "in": "path", "required": True,
                "description": key.doc or key.label, "schema": key.value_schema()}]
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": VERSION,
                 "description": "Provisioning of the pyhss Home Subscriber Server: subscribers, APN "
                                "profiles, IMS subscriptions and iFC templates (Cx), EIR rules and the EIR "
                                "check history (S13). K, OP, OPc and the SIP Digest password are write-only: "
                                "no response carries them (nor the digest's HA1). A change to what the "
                                "serving MME is given (MSISDN, APNs, UE-AMBR, enabled) sends it IDR; a "
                                "change to what a registered user's S-CSCF is given (public identities, "
                                "iFC) sends it PPR; deregister sends RTR."},
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "an API token made with pyhss-admin token add NAME [--read-only]; "
                               "read-only tokens may only GET"}},
        },
    }


def _operation(collection, route):
    name = collection.name
    noun = collection.shape.name
    operation = {"tags": [name], "operationId": f"{route.operation}_{name}"}
    errors = ["401", "503"]
    if route.operation == "list":
        operation.update(summary=f"list {name} ({collection.summary})", parameters=[
            _query(OFFSET), dict(_query(LIMIT), schema=dict(LIMIT.value_schema(), default=DEFAULT_LIMIT))]
            + [dict(_query(f.rule, f.name), description=f.doc) for f in collection.filters])
        page = {"type": "object", "properties": {
            "items": {"type": "array", "items": _ref(_schema_name(collection, "read"))},
            "offset": {"type": "integer"}, "limit": {"type": "integer"},
            "total": {"type": "integer", "description": "records the filters select"}},
            "required": ["items", "offset", "limit", "total"]}
        operation["responses"] = {"200": _json(page, f"a page of {name}")}
        errors.append("400")
    elif route.operation == "create":
        operation.update(summary=f"create a {noun}", requestBody={
            "required": True, "content": {"application/json": {"schema": _ref(_schema_name(collection, "create"))}}})
        operation["responses"] = {"201": dict(_json(_ref(_schema_name(collection, "read")), f"the {noun} created"),
                                              headers={"Location": {"schema": {"type": "string"}}})}
        errors += ["400", "403", "409", "413", "415"]
    elif route.operation == "get":
        operation.update(summary=f"get a {noun}")
        operation["responses"] = {"200": _json(_ref(_schema_name(collection, "read")), f"the {noun}")}
        errors.append("404")
    elif route.operation in ("replace", "update"):
        mode = "replace" if route.operation == "replace" else "patch"
        summary = (f"replace a {noun}: fields left out go back to their defaults (keys and the SQN stay)"
                   if mode == "replace" else f"change some fields of a {noun}")
        operation.update(summary=summary, requestBody={
            "required": True, "content": {"application/json": {"schema": _ref(_schema_name(collection, mode))}}})
        operation["responses"] = {"200": _json(_ref(_schema_name(collection, "change")), f"the {noun} as stored")}
        errors += ["400", "403", "404", "409", "413", "415"]
    elif route.operation == "delete":
        operation.update(summary=f"delete a {noun}")
        operation["responses"] = {"204": {"description": "deleted"}}
        errors += ["403", "404", "409"]
    elif route.operation == "view":
        view = next(v for v in collection.views if route.template.endswith("/" + v.name))
        operation.update(summary=view.summary, operationId=f"get_{name}_{view.name}")
        operation["responses"] = {"200": _json(_ref(view.shape.record.__name__), view.summary)}
        errors.append("404")
    elif route.operation == "action":
        action = next(a for a in collection.actions if route.template.endswith("/" + a.name))
        operation.update(summary=action.summary, operationId=f"{action.name}_{name}")
        if action.description:
            operation["description"] = action.description
        if action.parameters:
            operation["parameters"] = [dict(_query(p.rule, p.name), description=p.doc) for p in action.parameters]
        operation["responses"] = {"200": _json(action.response_schema, "done")}
        errors += ["400", "403", "404", "502"]
    for status in sorted(set(errors)):
        operation["responses"][status] = _problem(status)
    return operation


def _query(rule, name=None):
    return {"name": name or rule.name, "in": "query", "required": False,
            "description": rule.doc or rule.label, "schema": rule.value_schema()}
