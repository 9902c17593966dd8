"""The API shows every normalised field of a figure that the events carry (one normalisation, shown as computed)."""
from schemas.events import Quantity
from services.query.models import QuantityPublic


def test_the_public_figure_has_every_field_of_the_event():
    assert set(Quantity.model_fields) <= set(QuantityPublic.model_fields)


def test_a_figure_and_its_bracketed_conversion_reach_the_api_as_carried():
    carried = [Quantity(text="2.4 billion euros", value=2.4e9, unit="euros", scale="billion", start=14, end=31,
                        base_value=2.4e9, base_unit="EUR", precision=1e8),
               Quantity(text="$2.6 billion", value=2.6e9, unit="$", scale="billion", start=39, end=51,
                        approximate=True, base_value=2.6e9, base_unit="USD", precision=1e8, conversion=True)]
    public = [QuantityPublic.model_validate(q.model_dump(mode="json")) for q in carried]
    assert [(p.base_value, p.base_unit, p.precision, p.conversion) for p in public] == [
        (2.4e9, "EUR", 1e8, False), (2.6e9, "USD", 1e8, True)]
