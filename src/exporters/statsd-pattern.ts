/**
 * Airflow 3's list matching (airflow/metrics/validators.py, `ListValidator._has_pattern_match`): each
 * entry is trimmed and lower-cased, then used as a regular expression searched anywhere in the
 * lower-cased name (`re.findall(entry, name.lower())`). A plain prefix such as `api.request` therefore
 * still matches the names it used to (and any name containing it); anchor it with `^` to mean
 * "starts with". Lower-casing applies to the pattern too, as in Airflow (`\D` becomes `\d`).
 */
export function patternMatcher(list: readonly string[]): ((name: string) => boolean) | null {
  const patterns = list.map((e) => e.trim().toLowerCase()).filter((e) => e !== '');
  if (patterns.length === 0) return null;
  const res = patterns.map((p) => new RegExp(p));
  return (name) => {
    const lower = name.trim().toLowerCase();
    return res.some((re) => re.test(lower));
  };
}
