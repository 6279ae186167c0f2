"""One round trip through the Python client that openapi-python-client
generated from the served description: create -> get -> patch -> list ->
delete -> get (404). Run by tests/tests/generated_clients.rs with the
generated package `clients_api_client` on PYTHONPATH.

Usage: roundtrip.py BASE_URL API_KEY
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
    StatusInput,
    Success,
)


def expect(response, status, model):
    assert response.status_code == status, (response.status_code, response.content)
    assert isinstance(response.parsed, model), (type(response.parsed), response.content)
    return response.parsed


def main():
    base_url, key = sys.argv[1:3]
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

        deleted = expect(delete_client.sync_detailed(created.id, client=api), 200, Success)
        assert deleted.success is True

        missing = expect(get_client.sync_detailed(created.id, client=api), 404, NotFoundError)
        assert missing.error.code == "not_found", missing.error.code
    print("python client: create, get, patch, list, delete, 404: ok")


if __name__ == "__main__":
    main()
