using System.Globalization;
using FairNad.Architecture;
using FairNad.Architecture.Transforms;
using FairNad.Knowledge;

namespace FairNad.Search;

/// <summary>
/// Domains of transform parameters that the open space searches instead of taking the value a realisation fixes: a
/// realisation whose transform takes a parameter named here (e.g. <c>larger_kernel</c>'s <c>kernel</c>) gets a value
/// drawn from the domain each time it is applied. Realisations without such a parameter stay as they are and cost no
/// draw, so a space without domains (or with domains that touch none of its realisations) draws exactly as before.
/// </summary>
public sealed class SearchedParameters
{
    private readonly IReadOnlyDictionary<string, IReadOnlyList<double>> _domains;

    /// <param name="domains">Parameter name to its values (in the order written; the order only fixes which draw picks which value).</param>
    /// <exception cref="ArgumentException">a name or value is not usable (<see cref="Problem"/> says why).</exception>
    public SearchedParameters(IReadOnlyDictionary<string, IReadOnlyList<double>> domains)
    {
        if (Problem(domains) is { } problem)
        {
            throw new ArgumentException(problem, nameof(domains));
        }

        _domains = domains.ToDictionary(d => d.Key, d => (IReadOnlyList<double>)[.. d.Value], StringComparer.Ordinal);
    }

    /// <summary>The domains, by parameter name.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<double>> Domains => _domains;

    /// <summary>
    /// The parameters that can be searched: the numeric parameters of the transform library whose values are never
    /// negative (a stage index, which counts from the end when negative, is not a magnitude to search). Sorted.
    /// </summary>
    public static IReadOnlyList<string> SearchableNames { get; } = SpecTransforms.All.SelectMany(t => t.Params)
        .Where(p => p.Kind is ParamKind.Int or ParamKind.Number).GroupBy(p => p.Name, StringComparer.Ordinal)
        .Where(g => g.All(p => p.Min >= 0)).Select(g => g.Key).Order(StringComparer.Ordinal).ToList();

    /// <summary>The transforms that take <paramref name="name"/>, with its schema there, by transform name.</summary>
    private static IEnumerable<(string Transform, ParamSchema Schema)> Takers(string name) =>
        SpecTransforms.All.OrderBy(t => t.Name, StringComparer.Ordinal)
            .SelectMany(t => t.Params.Where(p => p.Name == name).Select(p => (t.Name, p)));

    /// <summary>
    /// The first problem as "name: reason" (name of the parameter, or "name[i]" for a value); null when usable. A value
    /// must be positive, listed once, and accepted by every transform that takes the parameter (its range, and a whole
    /// number where the transform takes one), so a domain means the same for every realisation it touches.
    /// </summary>
    public static string? Problem(IReadOnlyDictionary<string, IReadOnlyList<double>> domains)
    {
        if (domains.Count == 0)
        {
            return $"name at least one parameter (searchable: {string.Join(", ", SearchableNames)})";
        }

        foreach (var (name, values) in domains.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            if (!SearchableNames.Contains(name))
            {
                return $"{name}: not a searchable transform parameter (searchable: {string.Join(", ", SearchableNames)})";
            }

            if (values.Count == 0)
            {
                return $"{name}: the domain is empty; give one or more values";
            }

            for (var i = 0; i < values.Count; i++)
            {
                var v = values[i];
                if (!(v > 0) || !double.IsFinite(v))
                {
                    return string.Create(CultureInfo.InvariantCulture, $"{name}[{i}]: {v:R} is not positive");
                }

                if (values.Take(i).Contains(v))
                {
                    return string.Create(CultureInfo.InvariantCulture, $"{name}[{i}]: {v:R} is listed twice");
                }

                foreach (var (transform, schema) in Takers(name))
                {
                    if (schema.Kind == ParamKind.Int && v != Math.Floor(v))
                    {
                        return string.Create(CultureInfo.InvariantCulture, $"{name}[{i}]: {v:R} is not a whole number, which {transform} needs");
                    }

                    if (v < schema.Min || v > schema.Max)
                    {
                        return string.Create(CultureInfo.InvariantCulture, $"{name}[{i}]: {v:R} is outside {schema.Min:R}..{schema.Max:R}, which {transform} accepts");
                    }
                }
            }
        }

        return null;
    }

    /// <summary>The parameters of <paramref name="realisation"/>'s transform that are searched here, sorted by name; empty when none.</summary>
    public IReadOnlyList<string> SearchedIn(Realisation realisation) =>
        SpecTransforms.Find(realisation.Transform) is { } transform
            ? transform.Params.Select(p => p.Name).Where(_domains.ContainsKey).Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>
    /// A key that realisations differing only in searched parameters share (transform and its other parameters): with the
    /// kernel searched, <c>larger_kernel(kernel=5)</c> and <c>larger_kernel(kernel=7)</c> are one realisation.
    /// </summary>
    public string Template(Realisation realisation)
    {
        var searched = SearchedIn(realisation);
        return new Realisation(realisation.Transform, realisation.Params.Where(p => !searched.Contains(p.Key)).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal)).ToString();
    }

    /// <summary>
    /// The realisation with each searched parameter set, in the order they are to be tried: every combination of the
    /// domains' values, in a seeded order (one <paramref name="random"/> draw per combination, so the first is uniform
    /// over them), each with a note naming the values and their domains ("kernel=5 of {3, 5, 7}"). A realisation with no searched parameter is returned
    /// alone, unchanged, with no note and without a draw.
    /// </summary>
    public IReadOnlyList<(Realisation Realisation, string Drawn)> Variants(Realisation realisation, Random random)
    {
        var searched = SearchedIn(realisation);
        if (searched.Count == 0)
        {
            return [(realisation, string.Empty)];
        }

        IEnumerable<IReadOnlyList<(string Name, double Value)>> combinations = [[]];
        foreach (var name in searched)
        {
            combinations = combinations.SelectMany(c => _domains[name].Select(v => (IReadOnlyList<(string, double)>)[.. c, (name, v)]));
        }

        return combinations.ToList().OrderBy(_ => random.Next()).Select(c =>
        {
            var parameters = new SortedDictionary<string, ParamValue>(StringComparer.Ordinal);
            foreach (var (key, value) in realisation.Params)
            {
                parameters[key] = value;
            }

            foreach (var (name, value) in c)
            {
                parameters[name] = value;
            }

            var drawn = string.Join(", ", c.Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.Name}={x.Value:R} of {{{DomainText(x.Name)}}}")));
            return (new Realisation(realisation.Transform, parameters), drawn);
        }).ToList();
    }

    /// <summary>The domain of <paramref name="name"/> as written: "3, 5, 7".</summary>
    public string DomainText(string name) => string.Join(", ", _domains[name].Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
}
