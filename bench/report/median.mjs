// The median of a list of numbers (the mean of the two middle ones for an even count): every bench
// figure is a median of rounds or iterations.
/** @param {number[]} xs */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
