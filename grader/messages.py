"""Student-facing text as a template and its fields, so it renders in the student's language.

A check builds `Message("forward differs ... by up to {diff:.2e}", diff=d)`: a str, the English
text every existing reader gets, that also remembers its template and fields. A result keeps
that structure (`MessageRef`, under `said`, keyed by the English text), so a stored result renders
in any language without a regrade: the template is looked up in the language's gettext catalogue
(`grader/locale/<lang>/LC_MESSAGES/grader.po`, read with Babel) and filled with the same fields.
A nested Message is a field of its own, translated in turn; a field that is plain text (a file
name, the student's exception) is shown as it is.

The renderers' own words go through `say(lang, template, **fields)`. Both `Message(...)` and
`say(lang, ...)` literals are what Babel's extractor collects (keywords `Message` and `say:2`).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from grader.safe_text import neutralise

Lang = Literal["en", "zh-TW"]
LANGS: tuple[Lang, ...] = get_args(Lang)
LOCALE_DIRS: dict[Lang, str] = {"zh-TW": "zh_TW"}  # the gettext name of each translated language
SEPARATORS = ("; ", ", ", " and ")  # what Message.join puts between parts: translated as templates are
PLAIN = "{text}"  # a part that is plain text (a student's, a file's), shown as it is in every language
EXTRACT_KEYWORDS = {"Message": None, "say": (2,)}  # Babel's extractor: where the msgids are

FieldValue = Union["MessageRef", bool, int, float, str, None]


def normal_lang(value: object) -> object:
    """`zh_TW` and `zh-tw` as `zh-TW` (gettext's spelling and a user's both mean BCP 47's)."""
    if isinstance(value, str):
        for lang in LANGS:
            if value.replace("_", "-").lower() == lang.lower():
                return lang
    return value


class MessageRef(BaseModel):
    """What is stored of a Message: its English template and fields, or (`parts`) the Messages
    it joins with the separator `template`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    template: str
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    parts: list[MessageRef] = Field(default_factory=list)

    @field_validator("fields", mode="after")
    @classmethod
    def _neutral(cls, fields: dict[str, FieldValue]) -> dict[str, FieldValue]:
        return {k: neutralise(v) if isinstance(v, str) else v for k, v in fields.items()}

    def render(self, lang: Lang) -> str:
        """The text in `lang`: the catalogue's template (English where it has none) with the
        fields, each nested one rendered in `lang` too."""
        if self.parts:
            return translate(self.template, lang).join(part.render(lang) for part in self.parts)
        values = {k: v.render(lang) if isinstance(v, MessageRef) else v for k, v in self.fields.items()}
        try:
            return translate(self.template, lang).format(**values)
        except (KeyError, IndexError, ValueError):  # a translation that does not fit these fields: the English
            return self.template.format(**values)

    def replaced(self, template: str, by: MessageRef) -> MessageRef:
        """This message with every part built from `template` (nested ones too) replaced by `by`."""
        if self.template == template and not self.parts:
            return by
        fields = {k: v.replaced(template, by) if isinstance(v, MessageRef) else v for k, v in self.fields.items()}
        return self.model_copy(update={"fields": fields, "parts": [p.replaced(template, by) for p in self.parts]})

    def templates(self) -> list[str]:
        """Every template this message is built from, nested ones and separators included."""
        ours = self.template not in ("", PLAIN) and (not self.parts or self.template in SEPARATORS)
        own = [self.template] if ours else []
        nested = [t for v in self.fields.values() if isinstance(v, MessageRef) for t in v.templates()]
        return own + nested + [t for p in self.parts for t in p.templates()]

    def text_fields(self) -> dict[str, str]:
        """Every plain-text field, nested ones included: what shows untranslated in any language."""
        own = {k: v for k, v in self.fields.items() if isinstance(v, str)}
        for v in [*self.fields.values(), *self.parts]:
            if isinstance(v, MessageRef):
                own.update(v.text_fields())
        return own


def _field(value: object) -> FieldValue:
    """A field as it is stored: a number stays a number (its template formats it), a Message
    its structure, anything else (a shape, a list of names) its text."""
    if isinstance(value, Message):
        return value.ref
    if hasattr(value, "item") and hasattr(value, "dtype") and getattr(value, "shape", None) == ():  # NumPy's
        value = value.item()
    for kind in (bool, int, float):  # a subclass (an IntEnum, NumPy's float64) as its plain number
        if isinstance(value, kind):
            return kind(value)
    return None if value is None else str(value)


class Message(str):
    """English text that remembers its template and fields (see the module's docstring)."""

    ref: MessageRef

    def __new__(cls, template: str, **fields: object) -> Message:
        return cls.of(MessageRef(template=template, fields={k: _field(v) for k, v in fields.items()}))

    @classmethod
    def of(cls, ref: MessageRef) -> Message:
        """The Message a stored structure was made from."""
        text = super().__new__(cls, ref.render("en"))
        text.ref = ref
        return text

    @classmethod
    def join(cls, separator: str, parts: list[str]) -> Message:
        """The parts (Messages, or plain text shown as it is) one after another."""
        refs = [p.ref if isinstance(p, Message) else MessageRef(template=PLAIN, fields={"text": p}) for p in parts]
        return cls.of(MessageRef(template=separator, parts=refs))

    def __reduce__(self) -> tuple[object, tuple[MessageRef]]:  # pickled and copied with its structure
        return Message.of, (self.ref,)

    def __add__(self, other: str) -> Message:  # type: ignore[override]
        """Text after this one (what `+=` builds) keeps both structures."""
        return Message.join("", [self, other])


def said(values: object) -> dict[str, MessageRef]:
    """The structure of every Message among `values` (a model's fields, lists included), keyed
    by the English text a result stores (neutralised, as the stored text is)."""
    found: dict[str, MessageRef] = {}
    items = values.values() if isinstance(values, dict) else values
    for value in items:  # type: ignore[union-attr]
        if isinstance(value, Message):
            found[neutralise(value)] = value.ref
        elif isinstance(value, (list, tuple)):
            found.update(said(list(value)))
    return found


def in_lang(text: str, said_: dict[str, MessageRef], lang: Lang) -> str:
    """A stored text in `lang`: through its structure where the result kept one, else as it is
    (a result from before messages had structure, a student's own text)."""
    ref = said_.get(text)
    return text if lang == "en" or ref is None else ref.render(lang)


def shown(text: str, lang: Lang) -> str:
    """A text in `lang`: a Message through its structure, anything else as it is."""
    return text.ref.render(lang) if isinstance(text, Message) and lang != "en" else str(text)


class Says(BaseModel):
    """A model with student-facing text: the structure of each Message given to it is kept in
    `said`, keyed by the stored text (on assignment too, where the model validates it), so the
    text renders in any language."""

    said: dict[str, MessageRef] = Field(default_factory=dict, description="the template and fields of each "
                                        "message, keyed by its English text (grader/messages.py)")

    @model_validator(mode="before")
    @classmethod
    def _keep_said(cls, data: object) -> object:
        if isinstance(data, dict) and (found := said({k: v for k, v in data.items() if k != "said"})):
            return {**data, "said": {**(data.get("said") or {}), **found}}
        return data

    def in_lang(self, text: str, lang: Lang) -> str:
        """One of this model's texts in `lang`."""
        return in_lang(text, self.said, lang)

    def message_of(self, text: str) -> str:
        """One of this model's texts as a Message again (to nest in another), else as it is."""
        return Message.of(self.said[text]) if text in self.said else text


def say(lang: Lang, template: str, **fields: object) -> str:
    """A renderer's own words in `lang`."""
    return Message(template, **fields).ref.render(lang)


@lru_cache(maxsize=None)
def catalogue(lang: Lang) -> dict[str, str]:
    """msgid -> msgstr of the language's catalogue (translated entries only, none fuzzy)."""
    if lang == "en":
        return {}
    from babel.messages.pofile import read_po  # only where a translation is asked for

    po = resources.files("grader") / "locale" / LOCALE_DIRS[lang] / "LC_MESSAGES" / "grader.po"
    with po.open("rb") as handle:
        read = read_po(handle, locale=LOCALE_DIRS[lang])
    return {str(m.id): str(m.string) for m in read if m.id and m.string and not m.fuzzy}


def translate(template: str, lang: Lang) -> str:
    """The template in `lang`; itself where the catalogue lacks it (the tests hold it has all)."""
    return catalogue(lang).get(template, template) if lang != "en" else template

