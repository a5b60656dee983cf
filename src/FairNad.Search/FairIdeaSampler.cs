using FairNad.Knowledge;

namespace FairNad.Search;

/// <summary>
/// Fair idea sampling: picks the attribute for the next mutation so that every attribute gets an equal share of trials,
/// however many siblings it has. It descends granularity -> category -> attribute, at each level taking the child
/// whose subtree has the fewest trials per attribute (a seeded draw breaks ties), so small categories are not
/// favoured as they would be by uniform sampling at each level. Deterministic for a seed and a history.
/// </summary>
public sealed class FairIdeaSampler
{
    private readonly Func<AttributeNode, bool> _include;
    private IReadOnlyList<GranularityNode> _tree;
    private readonly Dictionary<string, int> _tries = new(StringComparer.Ordinal);
    private readonly Random _random;

    /// <param name="tree">The attribute tree.</param>
    /// <param name="seed">Seed of the tie-breaking draws.</param>
    /// <param name="include">Which attributes may be sampled (e.g. only realisable ones when the LLM is off).</param>
    public FairIdeaSampler(AttributeTree tree, int seed, Func<AttributeNode, bool>? include = null)
    {
        _include = include ?? (_ => true);
        _tree = Narrow(tree.Granularities, _include);
        if (_tree.Count == 0)
        {
            throw new ArgumentException("no attribute of the tree may be sampled");
        }

        _random = new Random(seed);
    }

    /// <summary>Trials so far per attribute id.</summary>
    public IReadOnlyDictionary<string, int> Tries => _tries;

    /// <summary>
    /// Feedback's say in fairness: a load added to an attribute's trial count (the feedback loop adds failures and
    /// subtracts half the improvements, so attributes that keep breaking candidates are tried less and ones that help more).
    /// </summary>
    public Func<string, double>? ExtraLoad { get; set; }

    /// <summary>
    /// Samples from <paramref name="tree"/> from now on (the same attributes, some with more realisations: an archived
    /// operator became one), keeping the trial counts and the tie-breaking draws where they are.
    /// </summary>
    public void Use(AttributeTree tree) => _tree = Narrow(tree.Granularities, _include);

    /// <summary>Counts a trial that happened elsewhere (e.g. replayed from a journal on resume).</summary>
    public void Record(string attributeId) => _tries[attributeId] = _tries.GetValueOrDefault(attributeId) + 1;

    /// <summary>
    /// Picks the next attribute and records the trial. <paramref name="prefer"/> narrows the choice to attributes it
    /// accepts when any exist (the Pareto-aware mutation passes the objective the parent is weak in);
    /// <paramref name="require"/> narrows it always (mutations that apply realisations need realised attributes).
    /// </summary>
    /// <exception cref="InvalidOperationException">no attribute meets <paramref name="require"/>.</exception>
    public (GranularityNode Granularity, CategoryNode Category, AttributeNode Attribute) Next(Func<AttributeNode, bool>? prefer = null, Func<AttributeNode, bool>? require = null)
    {
        var tree = require is null ? _tree : Narrow(_tree, require);
        if (tree.Count == 0)
        {
            throw new InvalidOperationException("no attribute of the tree meets the mutation's requirement");
        }

        if (prefer is not null && Narrow(tree, prefer) is { Count: > 0 } narrowed)
        {
            tree = narrowed;
        }

        var granularity = LeastTried(tree, g => g.Categories.SelectMany(c => c.Attributes));
        var category = LeastTried(granularity.Categories, c => c.Attributes);
        var attribute = LeastTried(category.Attributes, a => [a]);
        Record(attribute.Id);
        return (granularity, category, attribute);
    }

    private static List<GranularityNode> Narrow(IReadOnlyList<GranularityNode> tree, Func<AttributeNode, bool> keep) =>
        tree.Select(g => g with { Categories = g.Categories.Select(c => c with { Attributes = c.Attributes.Where(keep).ToList() }).Where(c => c.Attributes.Count > 0).ToList() })
            .Where(g => g.Categories.Count > 0).ToList();

    private T LeastTried<T>(IReadOnlyList<T> children, Func<T, IEnumerable<AttributeNode>> leaves)
    {
        var load = children.Select(c =>
        {
            var list = leaves(c).ToList();
            return (Child: c, PerLeaf: list.Sum(a => _tries.GetValueOrDefault(a.Id) + (ExtraLoad?.Invoke(a.Id) ?? 0)) / list.Count);
        }).ToList();
        var minimum = load.Min(x => x.PerLeaf);
        var tied = load.Where(x => x.PerLeaf == minimum).Select(x => x.Child).ToList();
        return tied[_random.Next(tied.Count)];
    }
}
