"""The console's pool forms: the settings as an operator thinks of them, and the preview.

No JSON is typed. Countries are picked from the list `phonenumbers` knows (the one the
API's `validate_country` accepts), weights are a number per type, and per-country
sender IDs and overrides are small rows. Each widget turns what the browser posts into
the JSON the API stores, and that JSON is judged by the API's own rules: the validators
of pools/validators.py on each setting, then the serializer's checks of the settings
that depend on each other. A setting the API refuses is refused here with the same
message, shown next to its field.
"""

import functools
import unicodedata

import phonenumbers
from django import forms
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.db import models
from django.template import loader
from django.utils.html import format_html, format_html_join
from phonenumbers import geocoder
from rest_framework import serializers

from messaging.models import Message
from pools import validators
from pools.choices import Channel, Strategy
from pools.decision import DEFAULT_WEIGHT
from pools.models import Pool, default_weights
from pools.serializers import PoolSettingsSerializer
from pools.services.pools import SETTINGS_FIELDS
from virtual_numbers.choices import NumberType

SENDER_ID_LENGTH = Pool._meta.get_field("alphanumeric_sender_id").max_length


@functools.cache
def country_choices() -> list[tuple[str, str]]:
    """Every region phonenumbers knows, as "France (FR)", in alphabetical order.

    phonenumbers' own table of English names (its public lookup needs a phone number,
    and finds none for a few regions); the three it does not name come last, as codes.
    """
    names = {
        code: geocoder._region_display_name(code, "en") for code in phonenumbers.SUPPORTED_REGIONS
    }
    # Accents decomposed, so "Côte d'Ivoire" sorts among the C's.
    order = sorted(
        names, key=lambda code: (not names[code], unicodedata.normalize("NFKD", names[code]), code)
    )
    return [(code, f"{names[code]} ({code})" if names[code] else code) for code in order]


def country_select(blank: str) -> forms.Select:
    return forms.Select(choices=[("", blank), *country_choices()])


class CountryField(forms.ChoiceField):
    """A country from the list. Whether a code is one is the API's call, with its message
    (a select offers only countries, but a crafted post can send anything)."""

    default_validators = [validators.validate_country]

    def __init__(self, *, blank: str, **kwargs):
        super().__init__(choices=[("", blank), *country_choices()], **kwargs)

    def valid_value(self, value):
        return True


class CountryPicker(FilteredSelectMultiple):
    """The admin's two-list picker, with its filter box. Its script puts the lists first
    in the select's parent, so the select gets a parent of its own, after the label."""

    def __init__(self):
        super().__init__("countries", is_stacked=False)

    def render(self, name, value, attrs=None, renderer=None):
        return format_html("<div>{}</div>", super().render(name, value, attrs, renderer))


class CountriesField(forms.MultipleChoiceField):
    """Countries in no particular order."""

    widget = CountryPicker
    default_validators = [validators.validate_country_list]

    def __init__(self, **kwargs):
        super().__init__(choices=country_choices, required=False, **kwargs)

    def valid_value(self, value):
        return True


class Rows(list):
    """Rows as the browser posted them ({column: text}), told apart from the stored JSON
    (overrides are a list of dicts too)."""


class RowsWidget(forms.Widget):
    """A list edited as a table of small inputs, with buttons to add and remove rows
    and, when `ordered`, to move them up and down (pools/static/pools/rows.js).

    Each column posts as `<name>-<column>`, once per row, in page order. Every cell is a
    select or a text box, and those always post, so the n-th values of the columns make
    the n-th row. A blank row ends the table, to add one without the script (which
    removes it and adds rows from a template instead); a row left blank is no row.
    """

    template_name = "admin/pools/pool/rows_widget.html"

    class Media:
        js = ["pools/rows.js"]
        css = {"all": ["pools/pool_form.css"]}

    def __init__(self, columns: dict[str, tuple[str, forms.Widget]], *, add: str, ordered=False):
        super().__init__()
        self.columns = columns
        self.add = add  # the add button's label
        self.ordered = ordered

    def cell_name(self, name: str, column: str) -> str:
        return f"{name}-{column}"

    def rows(self, value) -> list[dict]:
        return value

    def value_from_datadict(self, data, files, name):
        columns = [data.getlist(self.cell_name(name, column)) for column in self.columns]
        # Only a crafted post has columns of unequal length: its extra cells are dropped.
        cells_by_row = zip(*columns, strict=False)
        rows = [dict(zip(self.columns, cells, strict=True)) for cells in cells_by_row]
        return Rows(row for row in rows if any(value.strip() for value in row.values()))

    def value_omitted_from_data(self, data, files, name):
        return False  # no rows posts nothing, as an empty <select multiple> does

    def id_for_label(self, id_):
        return ""  # a table is no input: each cell has its column's name as its label

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"].update(
            headers=[label for label, _ in self.columns.values()],
            rows=[self.cells(name, row) for row in self.rows(value)],
            blank=self.cells(name, {}),
            add=self.add,
            ordered=self.ordered,
        )
        return context

    def cells(self, name: str, row: dict) -> list[str]:
        return [
            widget.render(self.cell_name(name, column), row.get(column, ""), {"aria-label": label})
            for column, (label, widget) in self.columns.items()
        ]

    def render(self, name, value, attrs=None, renderer=None):
        # The template is the project's; Django's default form renderer reads the apps' only.
        return loader.render_to_string(self.template_name, self.get_context(name, value, attrs))


class CountryRowsWidget(RowsWidget):
    """An ordered list of countries: one select per row, each posted under the field's own
    name, so the list arrives in page order as a <select multiple> would send it."""

    def __init__(self):
        countries = {"country": ("Country", country_select("---------"))}
        super().__init__(countries, add="Add a country", ordered=True)

    def cell_name(self, name, column):
        return name

    def rows(self, value):
        return [{"country": code} for code in value]

    def value_from_datadict(self, data, files, name):
        return [code for code in data.getlist(name) if code]


class PriorityCountriesField(forms.Field):
    widget = CountryRowsWidget
    default_validators = [validators.validate_country_list]

    def to_python(self, value):
        return list(value or [])


class WeightsWidget(forms.Widget):
    """One number per type, each posted as `<name>` in NumberType order."""

    def value_from_datadict(self, data, files, name):
        return data.getlist(name)

    def id_for_label(self, id_):
        return f"{id_}_{NumberType.values[0]}"

    def render(self, name, value, attrs=None, renderer=None):
        number = forms.NumberInput(attrs={"min": 0, "max": validators.MAX_WEIGHT})
        weights = dict(zip(NumberType.values, value, strict=False))
        id_ = (attrs or {}).get("id", name)
        return format_html_join(
            "",
            '<label class="pool-weight">{} {}</label>',
            (
                (label, number.render(name, weights.get(t, ""), {"id": f"{id_}_{t}"}))
                for t, label in NumberType.choices
            ),
        )


class WeightsField(forms.Field):
    """The pool's weights: a number per type, in NumberType order."""

    widget = WeightsWidget
    default_validators = [validators.validate_weights]

    def prepare_value(self, value):
        if isinstance(value, dict):
            return [value.get(t, DEFAULT_WEIGHT) for t in NumberType.values]
        return value

    def to_python(self, value):
        # A post that leaves a type out leaves it at its default, as the API does.
        return {t: as_int(text) for t, text in zip(NumberType.values, value, strict=False)}


def as_int(text: str):
    """The integer typed; else the text as typed (None if blank), for the API's validator
    to refuse with its message."""
    try:
        return int(text)
    except ValueError:
        return text.strip() or None


class SenderIdsField(forms.Field):
    """Country → the alphanumeric sender ID used there, as rows."""

    widget = RowsWidget(
        {
            "country": ("Country", country_select("---------")),
            "sender_id": (
                "Sender ID",
                forms.TextInput(attrs={"maxlength": SENDER_ID_LENGTH, "size": SENDER_ID_LENGTH}),
            ),
        },
        add="Add a sender ID",
    )
    default_validators = [validators.validate_alphanumeric_sender_map]

    def prepare_value(self, value):
        if isinstance(value, Rows):
            return value
        return [{"country": country, "sender_id": sender} for country, sender in value.items()]

    def to_python(self, rows):
        # A map holds a country once: two rows for one would silently lose one.
        validators.validate_country_list([row["country"] for row in rows])
        return {row["country"]: row["sender_id"] for row in rows}


# The settings an override may change (pools/validators.py OVERRIDABLE_SETTINGS), with
# the yes/no ones as selects whose blank means "leave the pool's".
OVERRIDE_SWITCHES = {"sticky": "Sticky", "geomatch": "Geomatch", "skipUnhealthy": "Skip unhealthy"}
YES_NO_UNCHANGED = forms.Select(choices=[("", "unchanged"), ("yes", "yes"), ("no", "no")])
YES_NO = {"yes": True, "no": False}


def override_row(override: dict) -> dict:
    """An override as its row of the table: text per column."""
    switches = {True: "yes", False: "no"}
    weights = override.get("weights", {})
    return {
        "country": override.get("country") or "",
        "channel": override.get("channel") or "",
        **{key: switches.get(override.get(key), "") for key in OVERRIDE_SWITCHES},
        **{f"weight_{t}": weights.get(t, "") for t in NumberType.values},
    }


def override_json(row: dict) -> dict:
    """A row as the API stores the override: its scope and the settings it changes only.

    Text that is not yes, no or an integer is kept as typed, so the API's validator
    refuses it with its own message.
    """
    override = {key: row[key] for key in ("country", "channel") if row[key]}
    override |= {key: YES_NO.get(row[key], row[key]) for key in OVERRIDE_SWITCHES if row[key]}
    weights = {t: as_int(row[f"weight_{t}"]) for t in NumberType.values if row[f"weight_{t}"]}
    if weights:
        override["weights"] = weights
    return override


class OverridesField(forms.Field):
    """Per-destination changes to the pool's settings, a row each."""

    widget = RowsWidget(
        {
            "country": ("Country", country_select("any country")),
            "channel": ("Channel", forms.Select(choices=[("", "any channel"), *Channel.choices])),
            **{key: (label, YES_NO_UNCHANGED) for key, label in OVERRIDE_SWITCHES.items()},
            **{
                f"weight_{t}": (f"{label} weight", forms.NumberInput(attrs={"min": 0}))
                for t, label in NumberType.choices
            },
        },
        add="Add an override",
    )
    default_validators = [validators.validate_overrides]

    def prepare_value(self, value):
        return value if isinstance(value, Rows) else [override_row(o) for o in value]

    def to_python(self, rows):
        return [override_json(row) for row in rows]


def https_by_default(db_field, **kwargs):
    """Reads a scheme-less callback URL as https (Django 6's default) rather than http."""
    if isinstance(db_field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return db_field.formfield(**kwargs)


class PoolForm(forms.ModelForm):
    """The pool's name and settings. The structured settings are declared here (with
    the model's defaults as a new pool's); the others are the model's fields."""

    default_country = CountryField(
        blank="none",
        required=False,
        help_text="Its numbers are used when nothing in the recipient's country fits.",
    )
    priority_countries = PriorityCountriesField(
        required=False,
        initial=list,
        help_text="Preferred over other countries when the choice is otherwise open, the "
        "first first: ↑ and ↓ change the order.",
    )
    allowed_countries = CountriesField(
        initial=list,
        help_text="Destinations the pool may send to; others are refused. None chosen: all.",
    )
    weights = WeightsField(
        initial=default_weights,
        help_text="Share of new assignments per number type: 5, 1 and 1 give five long-code "
        "choices, then one toll-free. 0 = use that type only when no other type fits.",
    )
    alphanumeric_sender_ids = SenderIdsField(
        label="Per-country alphanumeric sender IDs",
        required=False,
        initial=dict,
        help_text="Used in that country before the pool's own sender ID.",
    )
    overrides = OverridesField(
        required=False,
        initial=list,
        help_text="Changes to sticky, geomatch, skip unhealthy and weights for one destination "
        "country, one channel, or both: e.g. geomatch off for Canada, or sticky for MMS only. "
        "The most specific match wins (country and channel, then country, then channel), key "
        "by key; an empty weight keeps the pool's.",
    )

    class Meta:
        model = Pool
        fields = ["name", "account", *SETTINGS_FIELDS]
        formfield_callback = https_by_default

    def clean(self):
        data = super().clean()
        if not self.errors:
            # The API's own checks of the settings that depend on each other; they read
            # the settings under the model's names, as the form has them.
            try:
                PoolSettingsSerializer().validate(data)
            except serializers.ValidationError as exc:
                for field, messages in exc.detail.items():
                    self.add_error(field, [str(message) for message in messages])
        return data


class SenderPreviewForm(forms.Form):
    """A preview's question; left out, the channel, strategy and intent are the API's
    defaults (and the selects offer no blank)."""

    to = forms.CharField(
        label="Recipient", max_length=32, help_text="In E.164, such as +14155550123."
    )
    channel = forms.TypedChoiceField(
        choices=Channel.choices,
        required=False,
        empty_value=Channel.SMS,
        help_text="MMS (media attached): only MMS-capable numbers qualify.",
    )
    strategy = forms.TypedChoiceField(
        choices=Strategy.choices, required=False, empty_value=Strategy.NUMERIC
    )
    intent = forms.TypedChoiceField(
        choices=Message.Intent.choices,
        required=False,
        empty_value=Message.Intent.TRANSACTIONAL,
        help_text="Marketing is held to the hours the recipient may receive it.",
    )
