from portal_localstack import configdoc


def test_readme_configuration_reference_matches_the_settings_classes() -> None:
    assert configdoc.current() == configdoc.render(), (
        "README's configuration reference drifts from the Settings classes; "
        "run `uv run portal-localstack config-doc --write`"
    )


def test_every_setting_has_a_meaning() -> None:
    undocumented = [
        line
        for line in configdoc.render().splitlines()
        if line.startswith("| `") and line.endswith("|  |")
    ]
    assert undocumented == []
