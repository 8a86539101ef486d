/**
 * Search requests for the "search (uncached)" target of bench/run.ts: every path is different, so
 * nothing a cache could keep is ever asked twice within a run, and the mix resembles what people
 * type: a topic alone, a topic with a theme, a level with a topic, a quoted phrase and misspellings,
 * drawn from the generated catalog's own vocabulary (catalog.seed.vocabulary.ts), with filters.
 */
import { FOCUS, LEVELS, TOPICS } from '../src/modules/catalog/catalog.seed.vocabulary.ts';

/** A deterministic stand-in for Math.random, so two runs send the same requests. */
function generator(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Swaps two neighbouring letters of the longest word: "python" → "pyhton". */
function misspell(text: string, random: () => number) {
  const word = text.split(' ').reduce((a, b) => (b.length > a.length ? b : a));
  if (word.length < 4) return text;
  const i = 1 + Math.floor(random() * (word.length - 2));
  return text.replace(word, word.slice(0, i - 1) + word[i] + word[i - 1] + word.slice(i + 1));
}

/**
 * `count` distinct request paths. Topics are drawn with the same skew as the generator (popular
 * topics, which match thousands of courses, come up most), so the mix includes broad searches.
 */
export function searchPaths(count: number, seed = 42): string[] {
  const random = generator(seed);
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)]!;
  const topic = () => TOPICS[Math.min(TOPICS.length - 1, Math.floor(TOPICS.length * random() ** 1.5))]!.name;
  const firstWord = (phrase: string) => phrase.split(' ')[0]!.toLowerCase();
  const paths = new Set<string>();
  while (paths.size < count) {
    const kind = random();
    const q =
      kind < 0.35
        ? topic().toLowerCase()
        : kind < 0.65
          ? `${topic().toLowerCase()} ${firstWord(pick(FOCUS))}`
          : kind < 0.8
            ? `${pick(LEVELS).split(' ').at(-1)!.toLowerCase()} ${topic().toLowerCase()}`
            : kind < 0.9
              ? `"${topic().toLowerCase()}"`
              : misspell(topic().toLowerCase(), random);
    const params = new URLSearchParams({ q, limit: '20' });
    const filter = random();
    if (filter < 0.2) params.set('difficulty', pick(['Beginner', 'Intermediate', 'Advanced']));
    else if (filter < 0.35) params.set('maxPrice', String(50 + Math.floor(random() * 450)));
    else if (filter < 0.45) params.set('language', pick(['en', 'fr', 'es']));
    // A distinct minimum rating makes every request unique without changing what is searched much.
    params.set('minRating', (random() * 3).toFixed(3));
    paths.add(`/api/courses?${params}`);
  }
  return [...paths];
}
