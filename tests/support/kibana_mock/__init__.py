"""A validating mock of Kibana's detection engine API (Stoplight Prism on Kibana's OpenAPI description).

See :mod:`tests.support.kibana_mock.prism` for what it validates and what it answers.  A session fixture, e.g.
in a conftest::

    from tests.support.kibana_mock import contract_path, running_prism

    @pytest.fixture(scope="session")
    def kibana_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismServer]:
        spec = contract_path()
        if spec is None:
            pytest.skip("$DETECT_KIBANA_OPENAPI does not name Kibana's detections OpenAPI file")
        with running_prism(spec, log_dir=tmp_path_factory.mktemp("kibana-mock")) as server:
            yield server                      # server.url, server.log_path, server.log_tail()
"""

from tests.support.kibana_mock.prism import (
    CONTRACT_ENV,
    PRISM_VERSION,
    PrismError,
    PrismServer,
    ResponseMode,
    contract_path,
    install_prism,
    prepare_spec,
    prism_mock,
    running_prism,
)

__all__ = [
    "CONTRACT_ENV",
    "PRISM_VERSION",
    "PrismError",
    "PrismServer",
    "ResponseMode",
    "contract_path",
    "install_prism",
    "prepare_spec",
    "prism_mock",
    "running_prism",
]
