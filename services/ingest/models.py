"""Request and response models of the ingest API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from services.common.types import iso_datetime

PublishedAt = Annotated[AwareDatetime | None, BeforeValidator(iso_datetime)]


class ArticleIn(BaseModel):
    """One article as a client posts it: a plain-text `body` or an `html` page."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={
        # The rule of `_one_body`, stated in the schema for clients and generated tests.
        "oneOf": [
            {"required": ["body"], "properties": {"body": {"type": "string", "pattern": r"\S"},
                                                  "html": {"type": "null"}}},
            {"required": ["html"], "properties": {"html": {"type": "string", "pattern": r"\S"},
                                                  "body": {"type": "null"}}},
        ],
    })

    id: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:\-]+$",
                           description="Your own id; used as the article id everywhere when given")
    url: str | None = Field(None, max_length=2048, pattern=r"^https?://\S+$")
    outlet: str = Field(min_length=1, max_length=200)
    title: str | None = Field(None, max_length=1000)
    body: str | None = Field(None, description="Plain text, as scraped; boilerplate is removed")
    html: str | None = Field(None, description="An HTML page; its main text is extracted")
    published_at: PublishedAt = Field(None, description="ISO 8601 with a UTC offset, e.g. 2026-03-02T10:00:00Z")

    @model_validator(mode="after")
    def _one_body(self) -> ArticleIn:
        if bool(self.body) == bool(self.html):
            raise ValueError("give exactly one of 'body' (plain text) or 'html'")
        return self


class ArticleAccepted(BaseModel):
    id: str
    version: int
    status: Literal["published", "duplicate"] = Field(
        description="'duplicate' when this exact content was already published under this id")
    language: str = Field("en", description="Language detected from the body (ISO 639-1)")
    warnings: list[str] = Field(default_factory=list,
                                description="Accepted, but: e.g. not English, so no sentence will be scored")


class ArticlesAccepted(BaseModel):
    articles: list[ArticleAccepted]
