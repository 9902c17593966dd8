"""Reviewer feedback on claims and cluster membership; GET /feedback/summary.

Writes need X-API-Key when QUERY_API_KEY is set. Each verdict is stored, published on
`<namespace>.feedback.v1` (FeedbackRecorded) and counted in the precision per model version
(`claimstream_query_feedback_precision_ratio{model_version,kind}`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request

from services.query import feedback
from services.query.deps import WriteAccess
from services.query.models import ClaimFeedbackIn, ClusterFeedbackIn, FeedbackPublic, FeedbackSummaryPublic

router = APIRouter(tags=["feedback"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "X-API-Key missing or wrong (when QUERY_API_KEY is set)"},
    404: {"description": "No such claim or cluster"}, 422: {"description": "Invalid feedback"}}


async def _record(request: Request, **values) -> FeedbackPublic:
    try:
        recorded = await asyncio.to_thread(feedback.record, request.app.state.engine, **values)
    except feedback.NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except feedback.NotAMember as exc:
        raise HTTPException(422, str(exc)) from exc
    request.app.state.outbox.notify()
    request.app.state.feedback_changed.set()
    return FeedbackPublic.model_validate(recorded.model_dump(exclude={"schema_version"}))


@router.post("/claims/{claim_id}/feedback", status_code=201, response_model=FeedbackPublic,
             dependencies=[WriteAccess], responses=ERRORS)
async def claim_feedback(claim_id: Annotated[str, Path(max_length=40)], body: ClaimFeedbackIn,
                         request: Request) -> FeedbackPublic:
    """Is this claim worth checking? The latest verdict per claim counts."""
    return await _record(request, kind="claim", claim_id=claim_id, check_worthy=body.check_worthy, note=body.note)


@router.post("/clusters/{cluster_id}/feedback", status_code=201, response_model=FeedbackPublic,
             dependencies=[WriteAccess], responses=ERRORS)
async def cluster_feedback(cluster_id: Annotated[str, Path(max_length=40)], body: ClusterFeedbackIn,
                           request: Request) -> FeedbackPublic:
    """Does this claim belong in this cluster? 422 when the claim is in another cluster."""
    return await _record(request, kind="cluster", claim_id=body.claim_id, cluster_id=cluster_id,
                         correct_member=body.correct_member, note=body.note)


@router.get("/feedback/summary", response_model=FeedbackSummaryPublic)
async def feedback_summary(request: Request) -> FeedbackSummaryPublic:
    """Precision per model version from the latest verdict per claim and per cluster membership."""
    return await asyncio.to_thread(feedback.summary, request.app.state.engine)
