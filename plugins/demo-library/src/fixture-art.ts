import type { FixtureCatalog, FixtureMedia, FixtureUnit } from './fixture-catalog.js';

/**
 * Deterministic SVG art for the fixture site: a cover per media and the page images of the
 * synthetic manga. The same catalog always gives byte-identical files, so the generated files in
 * fixture/ can be checked for staleness.
 */

type Motif = 'lantern' | 'gear' | 'moon' | 'key' | 'stars';

const MOTIFS: readonly Motif[] = ['lantern', 'gear', 'moon', 'key', 'stars'];
const MOTIF_BY_MEDIA: Record<string, Motif> = {
  'alice-wonderland': 'key',
  'sherlock-holmes-adventures': 'moon',
  frankenstein: 'stars',
  'pride-and-prejudice': 'key',
  'paper-lantern-patrol': 'lantern',
  'clockwork-courier': 'gear',
};

const PALETTES: readonly { bg: string; accent: string; ink: string; tint: string }[] = [
  { bg: '#1f3a5f', accent: '#f2b134', ink: '#fdf6e3', tint: '#e8eef6' },
  { bg: '#6b2737', accent: '#e9c46a', ink: '#fff8f0', tint: '#f6e9ec' },
  { bg: '#2d4a3e', accent: '#c9e4ca', ink: '#f7fff7', tint: '#e9f3ec' },
  { bg: '#3d3b54', accent: '#ff9f68', ink: '#fdfcff', tint: '#eceaf4' },
  { bg: '#f4e9d8', accent: '#9c2c2c', ink: '#2b2118', tint: '#fbf5ec' },
  { bg: '#12263a', accent: '#ef6f6c', ink: '#f4f4f9', tint: '#e6ecf2' },
];

const LINES: Record<string, readonly string[]> = {
  'paper-lantern-patrol': [
    'Light it again!',
    'The wick is damp.',
    "Who's on the bridge?",
    'Moths. Hundreds of them.',
    'Keep the flame low.',
    'Did you hear that?',
    'Next street, quick!',
    "It's only the wind.",
  ],
  'clockwork-courier': [
    'Parcel for the tower.',
    'Tick. Tock. Tick.',
    'Wind me up, please.',
    'Signature here.',
    'That gear is mine!',
    'Almost there.',
    'Mind the stairs.',
    'Delivered.',
  ],
};
const DEFAULT_LINES = ['Hello?', 'Over here!', 'Look out!', 'What was that?'];

/** FNV-1a, 32 bit. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a small seeded generator, so art depends only on ids. */
function seeded(seed: string): () => number {
  let a = hash32(seed);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(items: readonly T[], r: number): T {
  return items[Math.floor(r * items.length) % items.length] as T;
}

function n(value: number): string {
  return String(Math.round(value * 10) / 10);
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function wrap(text: string, maxChars: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > maxChars) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

function palette(id: string) {
  return pick(PALETTES, hash32(`palette:${id}`) / 4294967296);
}

function motifOf(id: string): Motif {
  return MOTIF_BY_MEDIA[id] ?? pick(MOTIFS, hash32(`motif:${id}`) / 4294967296);
}

function drawMotif(motif: Motif, cx: number, cy: number, r: number, fill: string, stroke: string): string {
  switch (motif) {
    case 'lantern': {
      const ribs = [-0.5, 0, 0.5]
        .map(
          (f) =>
            `<path d="M${n(cx - r * 0.7 * Math.sqrt(1 - f * f))} ${n(cy + f * r)}h${n(1.4 * r * Math.sqrt(1 - f * f))}" stroke="${stroke}" stroke-width="${n(r / 20)}"/>`,
        )
        .join('');
      return (
        `<g><rect x="${n(cx - r * 0.35)}" y="${n(cy - r * 1.15)}" width="${n(r * 0.7)}" height="${n(r * 0.2)}" fill="${stroke}"/>` +
        `<rect x="${n(cx - r * 0.35)}" y="${n(cy + r * 0.95)}" width="${n(r * 0.7)}" height="${n(r * 0.2)}" fill="${stroke}"/>` +
        `<ellipse cx="${n(cx)}" cy="${n(cy)}" rx="${n(r * 0.7)}" ry="${n(r)}" fill="${fill}" stroke="${stroke}" stroke-width="${n(r / 15)}"/>` +
        `${ribs}</g>`
      );
    }
    case 'gear': {
      const teeth = 12;
      const points: string[] = [];
      for (let i = 0; i < teeth * 4; i++) {
        const angle = (i / (teeth * 4)) * Math.PI * 2;
        const radius = i % 4 < 2 ? r : r * 0.8;
        points.push(`${n(cx + radius * Math.cos(angle))},${n(cy + radius * Math.sin(angle))}`);
      }
      return (
        `<g><polygon points="${points.join(' ')}" fill="${fill}" stroke="${stroke}" stroke-width="${n(r / 20)}"/>` +
        `<circle cx="${n(cx)}" cy="${n(cy)}" r="${n(r * 0.3)}" fill="${stroke}"/></g>`
      );
    }
    case 'moon':
      return (
        `<g><circle cx="${n(cx)}" cy="${n(cy)}" r="${n(r)}" fill="${fill}"/>` +
        `<circle cx="${n(cx + r * 0.45)}" cy="${n(cy - r * 0.2)}" r="${n(r * 0.85)}" fill="${stroke}"/></g>`
      );
    case 'key':
      return (
        `<g fill="none" stroke="${fill}" stroke-width="${n(r / 7)}" stroke-linecap="round">` +
        `<circle cx="${n(cx - r * 0.55)}" cy="${n(cy)}" r="${n(r * 0.4)}"/>` +
        `<path d="M${n(cx - r * 0.15)} ${n(cy)}H${n(cx + r)}M${n(cx + r * 0.7)} ${n(cy)}v${n(r * 0.35)}M${n(cx + r * 0.95)} ${n(cy)}v${n(r * 0.25)}"/></g>`
      );
    case 'stars': {
      const rand = seeded(`stars:${cx}:${cy}:${r}`);
      const stars: string[] = [];
      for (let i = 0; i < 7; i++) {
        const x = cx + (rand() * 2 - 1) * r;
        const y = cy + (rand() * 2 - 1) * r;
        const s = r * (0.06 + rand() * 0.1);
        stars.push(
          `<path d="M${n(x)} ${n(y - s * 2)}L${n(x + s * 0.5)} ${n(y - s * 0.5)}L${n(x + s * 2)} ${n(y)}L${n(x + s * 0.5)} ${n(y + s * 0.5)}L${n(x)} ${n(y + s * 2)}L${n(x - s * 0.5)} ${n(y + s * 0.5)}L${n(x - s * 2)} ${n(y)}L${n(x - s * 0.5)} ${n(y - s * 0.5)}Z" fill="${fill}"/>`,
        );
      }
      return `<g>${stars.join('')}</g>`;
    }
  }
}

export function coverPath(mediaId: string): string {
  return `covers/${mediaId}.svg`;
}

export function pagePath(unitId: string, page: number): string {
  return `pages/${unitId}/${String(page).padStart(2, '0')}.svg`;
}

/** A 300x450 cover: title, author, a motif. */
export function coverSvg(media: FixtureMedia): string {
  const p = palette(media.id);
  const titleLines = wrap(media.title, 16);
  const title = titleLines
    .map((line, i) => `<tspan x="150" dy="${i === 0 ? 0 : 34}">${escapeXml(line)}</tspan>`)
    .join('');
  return [
    '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="450" viewBox="0 0 300 450">',
    `<title>${escapeXml(media.title)}</title>`,
    `<rect width="300" height="450" fill="${p.bg}"/>`,
    `<rect x="14" y="14" width="272" height="422" fill="none" stroke="${p.accent}" stroke-width="3"/>`,
    `<text x="150" y="44" fill="${p.accent}" font-family="Verdana, sans-serif" font-size="12" letter-spacing="4" text-anchor="middle">${media.kind.toUpperCase()}</text>`,
    `<text x="150" y="96" fill="${p.ink}" font-family="Georgia, serif" font-size="28" font-weight="bold" text-anchor="middle">${title}</text>`,
    drawMotif(motifOf(media.id), 150, 280, 70, p.accent, p.bg),
    `<text x="150" y="408" fill="${p.ink}" font-family="Georgia, serif" font-size="16" font-style="italic" text-anchor="middle">${escapeXml(media.authors.join(', '))}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

const LAYOUTS: readonly (readonly number[])[] = [
  [1, 2],
  [2, 1],
  [1, 1, 1],
  [2, 2],
  [1, 2, 1],
];

function bubble(x: number, y: number, text: string): string {
  const w = text.length * 8 + 32;
  const cx = x + w / 2;
  return (
    `<g><path d="M${n(cx - 10)} ${n(y + 18)}l-12 24l26 -22Z" fill="#fff" stroke="#222" stroke-width="2"/>` +
    `<ellipse cx="${n(cx)}" cy="${n(y)}" rx="${n(w / 2)}" ry="24" fill="#fff" stroke="#222" stroke-width="2"/>` +
    `<text x="${n(cx)}" y="${n(y + 5)}" font-family="Verdana, sans-serif" font-size="14" text-anchor="middle" fill="#111">${escapeXml(text)}</text></g>`
  );
}

/** A 600x900 manga page (1-based `page`): panels with motifs, speed lines and speech bubbles. */
export function pageSvg(media: FixtureMedia, unit: FixtureUnit, page: number, pageCount: number): string {
  const rand = seeded(`${unit.id}#${page}`);
  const p = palette(media.id);
  const motif = motifOf(media.id);
  const lines = LINES[media.id] ?? DEFAULT_LINES;
  const layout = pick(LAYOUTS, rand());
  const top = 24;
  const bottom = 850;
  const gutter = 14;
  const rowHeight = (bottom - top - gutter * (layout.length - 1)) / layout.length;
  const parts: string[] = [
    '<svg xmlns="http://www.w3.org/2000/svg" width="600" height="900" viewBox="0 0 600 900">',
    `<title>${escapeXml(`${media.title}, chapter ${unit.number}, page ${page}`)}</title>`,
    '<rect width="600" height="900" fill="#fff"/>',
  ];
  let panelIndex = 0;
  layout.forEach((columns, row) => {
    const y = top + row * (rowHeight + gutter);
    const panelWidth = (600 - 48 - gutter * (columns - 1)) / columns;
    for (let col = 0; col < columns; col++) {
      const x = 24 + col * (panelWidth + gutter);
      const clip = `c${page}-${panelIndex}`;
      parts.push(
        `<clipPath id="${clip}"><rect x="${n(x)}" y="${n(y)}" width="${n(panelWidth)}" height="${n(rowHeight)}"/></clipPath>`,
      );
      parts.push(
        `<g clip-path="url(#${clip})"><rect x="${n(x)}" y="${n(y)}" width="${n(panelWidth)}" height="${n(rowHeight)}" fill="${p.tint}"/>`,
      );
      if (rand() < 0.5) {
        const ox = x + rand() * panelWidth;
        for (let i = 0; i < 10; i++) {
          const angle = (i / 10) * Math.PI * 2 + rand() * 0.3;
          parts.push(
            `<path d="M${n(ox)} ${n(y + rowHeight / 2)}l${n(Math.cos(angle) * 600)} ${n(Math.sin(angle) * 600)}" stroke="#cfcfcf" stroke-width="2"/>`,
          );
        }
      }
      parts.push(`<path d="M${n(x)} ${n(y + rowHeight * 0.82)}H${n(x + panelWidth)}" stroke="#888" stroke-width="2"/>`);
      const r = Math.min(panelWidth, rowHeight) * (0.16 + rand() * 0.14);
      const mx = x + r + 20 + rand() * Math.max(1, panelWidth - 2 * r - 40);
      const my = y + rowHeight * 0.45 + rand() * rowHeight * 0.2;
      parts.push(drawMotif(motif, mx, my, r, p.accent, p.bg));
      parts.push('</g>');
      parts.push(
        `<rect x="${n(x)}" y="${n(y)}" width="${n(panelWidth)}" height="${n(rowHeight)}" fill="none" stroke="#222" stroke-width="3"/>`,
      );
      if (page === 1 && panelIndex === 0) {
        const caption = `Chapter ${unit.number}: ${unit.title}`;
        parts.push(
          `<rect x="${n(x + 10)}" y="${n(y + 10)}" width="${n(Math.min(panelWidth - 20, caption.length * 8.5 + 20))}" height="30" fill="#222"/>`,
        );
        parts.push(
          `<text x="${n(x + 20)}" y="${n(y + 30)}" font-family="Verdana, sans-serif" font-size="14" fill="#fff">${escapeXml(caption)}</text>`,
        );
      } else if (rand() < 0.7) {
        const text = pick(lines, rand());
        const bx = x + 12 + rand() * Math.max(1, panelWidth - text.length * 8 - 56);
        parts.push(bubble(bx, y + 42, text));
      }
      panelIndex++;
    }
  });
  parts.push(
    `<text x="300" y="880" font-family="Verdana, sans-serif" font-size="13" fill="#555" text-anchor="middle">${escapeXml(`${media.title} - Chapter ${unit.number} - page ${page} of ${pageCount}`)}</text>`,
    '</svg>',
    '',
  );
  return parts.join('\n');
}

/** Every generated file of the fixture site, keyed by its path relative to fixture/. */
export function fixtureArt(catalog: FixtureCatalog): Map<string, string> {
  const files = new Map<string, string>();
  for (const media of catalog.media) {
    files.set(coverPath(media.id), coverSvg(media));
    for (const unit of media.units) {
      const pages = unit.pages ?? 0;
      for (let page = 1; page <= pages; page++) files.set(pagePath(unit.id, page), pageSvg(media, unit, page, pages));
    }
  }
  return files;
}
