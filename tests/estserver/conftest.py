from tests.helpers.estserver_fixture import est_server  # noqa: F401 - fixture re-export
