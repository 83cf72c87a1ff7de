// Windowing for long lists (the contact list holds thousands of rows):
// which rows to put in the DOM for a scroll offset, where each row starts
// given heights measured once rendered (estimated before), where to scroll
// to bring a row into view, and where keyboard focus moves. Pure, so the
// math is tested without a layout engine.

/**
 * Where each row starts: `offsets[i]` is the top of row `i`, and
 * `offsets[n]` the list's full height.
 */
export function offsetsOf(heights: ArrayLike<number>): Float64Array {
  const out = new Float64Array(heights.length + 1);
  for (let i = 0; i < heights.length; i++) out[i + 1] = out[i] + Math.max(0, heights[i]);
  return out;
}

/** The row under list coordinate `y` (clamped to the first and last row); -1 for an empty list. */
export function indexAt(offsets: Float64Array, y: number): number {
  const n = offsets.length - 1;
  if (n <= 0) return -1;
  if (y <= 0) return 0;
  if (y >= offsets[n]) return n - 1;
  // Largest i with offsets[i] <= y.
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid] <= y) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Inclusive row range; `last < first` when there is nothing to render. */
export interface Range {
  first: number;
  last: number;
}

/**
 * The rows to render for a viewport `height` pixels tall whose top is at
 * list coordinate `top` (negative while the list starts below the
 * viewport's top), plus `overscan` rows on each side so that a fast
 * scroll does not show blank space before the next frame renders.
 */
export function visibleRange(offsets: Float64Array, top: number, height: number, overscan: number): Range {
  const n = offsets.length - 1;
  const bottom = top + Math.max(0, height);
  if (n <= 0 || bottom <= 0 || top >= offsets[n]) {
    // Off screen: still render the overscan rows at the nearer end so the
    // list's first rows are ready (and focusable) when it scrolls in.
    if (n <= 0) return { first: 0, last: -1 };
    return top >= offsets[n]
      ? { first: Math.max(0, n - overscan), last: n - 1 }
      : { first: 0, last: Math.min(n - 1, overscan - 1) };
  }
  const first = indexAt(offsets, top);
  // The row holding the last visible pixel (bottom is exclusive).
  const last = indexAt(offsets, bottom - 0.5);
  return { first: Math.max(0, first - overscan), last: Math.min(n - 1, last + overscan) };
}

/**
 * The viewport top (list coordinates) that shows row `index` whole,
 * moving as little as possible from `top`; `top` itself when it already
 * does. A row taller than the viewport is aligned at its top.
 */
export function revealOffset(offsets: Float64Array, index: number, top: number, height: number): number {
  const n = offsets.length - 1;
  if (index < 0 || index >= n) return top;
  const start = offsets[index];
  const end = offsets[index + 1];
  if (start < top || end - start > height) return start;
  if (end > top + height) return end - height;
  return top;
}

/**
 * The row keyboard focus moves to from `current` on `key` in a list of
 * `count` rows of which `pageRows` fit the viewport; null when the key
 * is not a list-navigation key (or the list is empty).
 */
export function keyTarget(key: string, current: number, count: number, pageRows: number): number | null {
  if (count <= 0) return null;
  const at = Math.min(Math.max(current, 0), count - 1);
  const page = Math.max(1, Math.floor(pageRows));
  const clamp = (i: number) => Math.min(Math.max(i, 0), count - 1);
  switch (key) {
    case "ArrowDown":
      return clamp(at + 1);
    case "ArrowUp":
      return clamp(at - 1);
    case "PageDown":
      return clamp(at + page);
    case "PageUp":
      return clamp(at - page);
    case "Home":
      return 0;
    case "End":
      return count - 1;
    default:
      return null;
  }
}

/**
 * Row heights by key: measured ones, and an estimate for rows not
 * rendered yet (the mean of those measured, `fallback` before any).
 */
export class RowHeights {
  private measured = new Map<string | number, number>();
  private sum = 0;

  constructor(private fallback: number) {}

  get estimate(): number {
    return this.measured.size ? Math.round(this.sum / this.measured.size) : this.fallback;
  }

  get(key: string | number): number {
    return this.measured.get(key) ?? this.estimate;
  }

  /** Records a measurement; true when it changes what `get` returns for any row. */
  set(key: string | number, height: number): boolean {
    if (!(height > 0)) return false;
    const before = this.measured.get(key);
    if (before === height) return false;
    const estimateBefore = this.estimate;
    this.sum += height - (before ?? 0);
    this.measured.set(key, height);
    return before !== undefined || height !== estimateBefore || this.estimate !== estimateBefore;
  }

  /** Forgets rows no longer in the list (deleted contacts), so the map stays bounded by the list. */
  retain(keys: Set<string | number>): void {
    for (const [k, h] of this.measured) {
      if (!keys.has(k)) {
        this.measured.delete(k);
        this.sum -= h;
      }
    }
  }

  /** The height of each key, in order. */
  sizes(keys: readonly (string | number)[]): Float64Array {
    const est = this.estimate;
    const out = new Float64Array(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = this.measured.get(keys[i]) ?? est;
    return out;
  }
}
