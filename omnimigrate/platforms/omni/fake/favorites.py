"""The fake's document favorites: per user, `PUT`/`DELETE /documents/{identifier}/favorite`
(204 whether or not anything changed) and `include=onlyFavorites` on the documents list
(documents.py, through `favorited`)."""

from __future__ import annotations

from aiohttp import web

from omnimigrate.platforms.omni.fake.base import ApiBase, ApiError, Route


class FavoritesApi(ApiBase):
    def favorite_user(self, request: web.Request) -> str:
        """Whose favorite: `userId` (organization keys, which act as nobody otherwise) or
        the personal token's own user."""
        user_id = request.query.get("userId")
        if user_id is None and self.token(request).kind == "org":
            raise ApiError(400, "userId is required when using an organization API key")
        return self._acting_owner(request, user_id)

    async def favorite(self, request: web.Request) -> web.Response:
        user_id = self.favorite_user(request)
        doc = self._doc(request.match_info["identifier"])
        if not self.can_view(doc, user_id):  # a document the user cannot see is not found
            raise ApiError(404, f'Document with identifier "{doc.identifier}" not found')
        if request.method == "PUT" and user_id not in doc.favorited_by:
            doc.favorited_by.append(user_id)
        elif request.method == "DELETE" and user_id in doc.favorited_by:
            doc.favorited_by.remove(user_id)
        return web.Response(status=204)

    def favorite_routes(self) -> list[Route]:
        path = "/api/v1/documents/{identifier}/favorite"
        return [Route(m, path, self.favorite) for m in ("PUT", "DELETE")]
