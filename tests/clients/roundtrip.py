"""One round trip through the Python client that openapi-python-client
generated from the served description: create -> get -> patch -> list ->
delete -> get (404), every answer with the RateLimit fields; then, with the
key of an organization held to 1 request/s, lists until the API answers
429, read as the generated `ThrottledError` with `Retry-After`. Run by
tests/tests/generated_clients.rs with the generated package
`clients_api_client` on PYTHONPATH.

Usage: roundtrip.py BASE_URL API_KEY LIMITED_KEY
"""

import sys

from clients_api_client import AuthenticatedClient
from clients_api_client.api.clients import (
    create_client,
    delete_client,
    get_client,
    list_clients,
    update_client,
)
from clients_api_client.models import (
    ClientEnvelope,
    ClientList,
    ClientPatch,
    NewClient,
    NotFoundError,
    Status,
    ThrottledError,
    StatusInput,
    Success,
)


def expect(response, status, model):
    assert response.status_code == status, (response.status_code, response.content)
    assert isinstance(response.parsed, model), (type(response.parsed), response.content)
    assert response.headers["ratelimit-policy"].startswith('"requests";q='), response.headers
    assert response.headers["ratelimit"].startswith('"requests";r='), response.headers
    return response.parsed


def rate_limited(base_url, key):
    """Lists until a 429; answers its Retry-After."""
    with AuthenticatedClient(base_url=base_url, token=key, raise_on_unexpected_status=True) as api:
        for _ in range(20):
            response = list_clients.sync_detailed(client=api, limit=1)
            if response.status_code == 429:
                refused = response.parsed
                assert isinstance(refused, ThrottledError), (type(refused), response.content)
                assert refused.error.code == "rate_limited", refused.error.code
                retry_after = int(response.headers["retry-after"])
                assert retry_after >= 1, retry_after
                assert '"requests";r=0' in response.headers["ratelimit"], response.headers
                return retry_after
            assert response.status_code == 200, (response.status_code, response.content)
    raise AssertionError("20 requests at once were never refused at 1 request/s")


def main():
    base_url, key, limited_key = sys.argv[1:4]
    with AuthenticatedClient(base_url=base_url, token=key, raise_on_unexpected_status=True) as api:
        created = expect(
            create_client.sync_detailed(client=api, body=NewClient(name="Ada Lovelace", phone="+44 20 7946 0000")),
            201,
            ClientEnvelope,
        ).data
        assert created.status == Status.ACTIVE and created.notes is None

        fetched = expect(get_client.sync_detailed(created.id, client=api), 200, ClientEnvelope).data
        assert fetched.to_dict() == created.to_dict()

        patched = expect(
            update_client.sync_detailed(
                created.id, client=api, body=ClientPatch(status=StatusInput.INACTIVE, notes="Generated client")
            ),
            200,
            ClientEnvelope,
        ).data
        assert patched.status == Status.INACTIVE and patched.notes == "Generated client"

        page = expect(list_clients.sync_detailed(client=api, query="Lovelace", limit=10), 200, ClientList)
        assert [client.id for client in page.data] == [created.id] and page.total == 1
        assert page.total_relation == "eq", page.total_relation  # a str enum: eq or gte

        deleted = expect(delete_client.sync_detailed(created.id, client=api), 200, Success)
        assert deleted.success is True

        missing = expect(get_client.sync_detailed(created.id, client=api), 404, NotFoundError)
        assert missing.error.code == "not_found", missing.error.code
    retry_after = rate_limited(base_url, limited_key)
    print(f"python client: create, get, patch, list, delete, 404: ok; 429 rate_limited, Retry-After {retry_after}: ok")


if __name__ == "__main__":
    main()
