import { MediaKind as ProtoMediaKind } from './gen/awasm/v1/media_pb.js';
import type { MediaKind } from './manifest.js';

/** The API's MediaKind for each media kind name used by manifests and the plugin contract. */
export const PROTO_MEDIA_KINDS: Readonly<Record<MediaKind, ProtoMediaKind>> = {
  manga: ProtoMediaKind.MANGA,
  anime: ProtoMediaKind.ANIME,
  comic: ProtoMediaKind.COMIC,
  book: ProtoMediaKind.BOOK,
  tv: ProtoMediaKind.TV,
  movie: ProtoMediaKind.MOVIE,
};

const NAMES = new Map<ProtoMediaKind, MediaKind>(
  Object.entries(PROTO_MEDIA_KINDS).map(([name, kind]) => [kind, name as MediaKind]),
);

/** The media kind name of an API MediaKind; undefined for UNSPECIFIED or unknown numbers. */
export function mediaKindFromProto(kind: ProtoMediaKind): MediaKind | undefined {
  return NAMES.get(kind);
}
