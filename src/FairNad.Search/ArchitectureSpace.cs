using FairNad.Architecture;
using FairNad.Architecture.Transforms;
using FairNad.Knowledge;

namespace FairNad.Search;

/// <summary>
/// The open-ended space the attribute tree spans: reference architectures width-scaled to a parameter budget, changed by
/// the realisations of attributes. A child over the budget is width-scaled back into it (a child under it keeps its size,
/// so the cost objective still varies). The baselines sample and mutate here too, so every strategy searches the same space.
/// </summary>
public sealed class ArchitectureSpace : ISearchSpace<ArchitectureSpec>, IIdeaSpace<ArchitectureSpec>, IDescribedSampling<ArchitectureSpec>, IDescribedMutation<ArchitectureSpec>
{
    private readonly List<(CategoryNode Category, AttributeNode Attribute)> _realised;

    /// <param name="tree">Attributes and their realisations.</param>
    /// <param name="seeds">The initial population: reference architectures already fitted to <paramref name="budget"/>.</param>
    /// <param name="budget">Parameter budget every candidate must fit.</param>
    /// <param name="maxSampleMutations">A random sample is a seed changed by up to this many random realisations.</param>
    /// <param name="minSampleMutations">... and by at least this many (<see cref="MinSampleMutations"/>).</param>
    public ArchitectureSpace(AttributeTree tree, IReadOnlyList<ArchitectureSpec> seeds, long budget, int maxSampleMutations = 2, int minSampleMutations = 0)
    {
        if (seeds.Count == 0)
        {
            throw new ArgumentException("the space needs at least one seed architecture", nameof(seeds));
        }

        if (minSampleMutations < 0 || maxSampleMutations < minSampleMutations)
        {
            throw new ArgumentException($"random samples need 0 <= fewest edits <= most edits (got {minSampleMutations} and {maxSampleMutations})", nameof(minSampleMutations));
        }

        Tree = tree;
        Seeds = seeds;
        Budget = budget;
        MaxSampleMutations = maxSampleMutations;
        MinSampleMutations = minSampleMutations;
        _realised = tree.Attributes.Where(x => x.Attribute.Realisations.Count > 0).Select(x => (x.Category, x.Attribute)).ToList();
    }

    public AttributeTree Tree { get; }

    /// <summary>
    /// The run's operator archive, when the run lets the LLM write operators: a recorded candidate that uses an archived
    /// operator makes it a realisation of the entry's attribute (<see cref="Discovered"/>).
    /// </summary>
    public OperatorArchive? Operators { get; init; }

    /// <summary>
    /// The archived operators <paramref name="candidate"/> introduced (their entries name it), each as a realisation of
    /// the attribute its entry names (<see cref="OperatorRealisations"/>), ordered by reference. Only the introducing
    /// candidate counts, so the tree grows when that candidate is recorded, on resume as in the first session; operators
    /// without an entry (written before the archive existed) realise nothing.
    /// </summary>
    /// <exception cref="InvalidDataException">an entry is unreadable or its source was changed.</exception>
    public IReadOnlyList<(string AttributeId, Realisation Realisation)> Discovered(ArchitectureSpec candidate) =>
        Operators is not { } archive
            ? []
            : OperatorSources.References(candidate).Where(archive.Contains).Select(archive.Get).Where(e => e.Candidate == candidate.Id)
                .Select(e => (e.Attribute, OperatorRealisations.For(e.Reference))).ToList();

    public IReadOnlyList<ArchitectureSpec> Seeds { get; }

    public long Budget { get; }

    public int MaxSampleMutations { get; }

    /// <summary>
    /// The fewest edits a random sample gets: its depth is drawn uniformly from <see cref="MinSampleMutations"/> to
    /// <see cref="MaxSampleMutations"/>. 0 by default (a sample may be a seed as it is); 1 when the seeds are evaluated
    /// anyway (the open-space comparison), where a sample of depth 0 would only repeat one.
    /// </summary>
    public int MinSampleMutations { get; }

    /// <summary>
    /// Whether <see cref="SampleDescribed"/> says what a sample is (its depth and seed), for strategies that record it.
    /// Off by default, so runs recorded before the depth distribution was configurable keep their (empty) summaries; on
    /// whenever parameters are searched (<see cref="Searched"/>), so a sample's summary names the values its edits drew.
    /// </summary>
    public bool DescribesSamples
    {
        get => _describesSamples || Searched is not null;
        init => _describesSamples = value;
    }

    private readonly bool _describesSamples;

    /// <summary>
    /// Whether <see cref="MutateDescribed"/> says what a mutation did: only when parameters are searched, so that REA's
    /// mutations name the values drawn; otherwise REA records the empty summary it always did.
    /// </summary>
    public bool DescribesMutations => Searched is not null;

    /// <summary>Reference architectures by name, for <paramref name="input"/>, each width-scaled to fill <paramref name="budget"/>.</summary>
    public static IReadOnlyList<ArchitectureSpec> ScaledReferences(IEnumerable<string> names, InputSpec input, long budget) =>
        names.Select(n => WidthScaler.ScaleToBudget(ReferenceArchitectures.Get(n, input), budget).Spec).ToList();

    /// <summary>
    /// Reference architectures by name, each width-scaled to every fraction of <paramref name="budget"/> in
    /// <paramref name="fractions"/> (reference by reference, fractions in the order given), a spec that two fractions
    /// scale alike kept once (by id). The seed population then spans the cost axis instead of crowding at the budget,
    /// so the accuracy/cost front has members to speak of from the start. [1.0] gives <see cref="ScaledReferences(IEnumerable{string}, InputSpec, long)"/>.
    /// </summary>
    /// <exception cref="ArgumentException">a fraction is not above 0 and at most 1.</exception>
    /// <exception cref="InvalidOperationException">a reference cannot be scaled into its share of the budget; the message names both.</exception>
    public static IReadOnlyList<ArchitectureSpec> ScaledReferences(IEnumerable<string> names, InputSpec input, long budget, IReadOnlyList<double> fractions)
    {
        if (fractions.Count == 0 || fractions.Any(f => !(f > 0 && f <= 1)))
        {
            throw new ArgumentException("each budget fraction must be above 0 and at most 1", nameof(fractions));
        }

        var seeds = new List<ArchitectureSpec>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var reference = ReferenceArchitectures.Get(name, input);
            foreach (var fraction in fractions)
            {
                var share = (long)Math.Floor(budget * fraction);
                ScaledArchitecture scaled;
                try
                {
                    scaled = WidthScaler.ScaleToBudget(reference, Math.Max(1, share));
                }
                catch (WidthScalingException e)
                {
                    throw new InvalidOperationException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"{name} cannot be scaled to {fraction:G} of the budget ({share:N0} parameters): {e.Message}"), e);
                }

                if (scaled.Parameters > share || !ArchitectureAnalyzer.Analyze(scaled.Spec).IsValid)
                {
                    throw new InvalidOperationException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"{name} cannot be scaled to {fraction:G} of the budget ({share:N0} parameters): no width fits"));
                }

                if (seen.Add(scaled.Spec.Id))
                {
                    seeds.Add(scaled.Spec);
                }
            }
        }

        return seeds;
    }

    public string Key(ArchitectureSpec candidate) => candidate.Id;

    /// <summary>The seed architectures, in the experiment's order (the draw is not used: the population is the references).</summary>
    public IReadOnlyList<(ArchitectureSpec Candidate, string Summary)> InitialPopulation(Random random) =>
        Seeds.Select(s => (s, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{s.Name} scaled to {ArchitectureAnalyzer.Analyze(s).Parameters:N0} parameters"))).ToList();

    public ArchitectureSpec Sample(Random random) => SampleDescribed(random).Candidate;

    /// <summary>
    /// A uniformly drawn seed changed by k random realisations (<see cref="Mutate"/>), k drawn uniformly from
    /// <see cref="MinSampleMutations"/> to <see cref="MaxSampleMutations"/>: an edit sequence whose depth follows a stated
    /// distribution, so random search can be matched to the depth evolved candidates reach. The summary names k and the
    /// seed (empty unless <see cref="DescribesSamples"/>); an edit that finds nothing to apply leaves the sample shallower.
    /// </summary>
    public (ArchitectureSpec Candidate, string Summary) SampleDescribed(Random random)
    {
        var seed = Seeds[random.Next(Seeds.Count)];
        var spec = seed;
        var steps = MinSampleMutations + random.Next(MaxSampleMutations - MinSampleMutations + 1);
        var edits = new List<string>();
        for (var i = 0; i < steps; i++)
        {
            (spec, var edit) = MutateDescribed(spec, random);
            if (edit.Length > 0)
            {
                edits.Add(edit);
            }
        }

        // With searched parameters the edits are named too ("...: via larger_kernel(kernel=5) [drawn ...]: ..."); SampleDepth reads the start alone.
        return (spec, !DescribesSamples ? string.Empty : Searched is null || edits.Count == 0 ? DescribeSample(steps, seed) : $"{DescribeSample(steps, seed)}; {string.Join("; ", edits)}");
    }

    /// <summary>The summary of a random sample: "&lt;k&gt; random edit(s) of seed &lt;name&gt; (&lt;parameters&gt;)"; <see cref="SampleDepth"/> reads k back.</summary>
    public static string DescribeSample(int edits, ArchitectureSpec seed) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{edits} random edit{(edits == 1 ? string.Empty : "s")} of seed {seed.Name} ({ArchitectureAnalyzer.Analyze(seed).Parameters:N0} parameters)");

    /// <summary>The number of edits a random sample's summary (<see cref="DescribeSample"/>) names; null for any other summary.</summary>
    public static int? SampleDepth(string summary)
    {
        var space = summary.IndexOf(' ', StringComparison.Ordinal);
        return space > 0 && summary.AsSpan(space).StartsWith(" random edit", StringComparison.Ordinal)
            && int.TryParse(summary.AsSpan(0, space), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var k) ? k : null;
    }

    /// <summary>One realisation of a uniformly drawn realised attribute; the parent itself when none applies after many draws.</summary>
    /// <exception cref="InvalidOperationException">no attribute of the tree has a realisation (an extracted tree can hold only LLM-realised ones).</exception>
    public ArchitectureSpec Mutate(ArchitectureSpec parent, Random random) => MutateDescribed(parent, random).Candidate;

    /// <summary>
    /// <see cref="Mutate"/> (the same draws) with the applied realisation's summary; the parent and an empty summary
    /// when none applies after many draws.
    /// </summary>
    /// <exception cref="InvalidOperationException">no attribute of the tree has a realisation.</exception>
    public (ArchitectureSpec Candidate, string Summary) MutateDescribed(ArchitectureSpec parent, Random random)
    {
        if (_realised.Count == 0)
        {
            throw new InvalidOperationException("no attribute of the attribute tree has a realisation to apply; only LLM-driven mutation can change candidates with this tree");
        }

        for (var attempt = 0; attempt < 32; attempt++)
        {
            var (_, attribute) = _realised[random.Next(_realised.Count)];
            if (Apply(parent, attribute, random) is { } child)
            {
                return (child.Candidate, child.Summary);
            }
        }

        return (parent, string.Empty);
    }

    /// <summary>
    /// Parameters searched instead of fixed (the experiment's <c>space.searchedParameters</c>); null: every realisation
    /// applies with the values the tree gives it, and <see cref="Apply"/> draws exactly as before the option existed.
    /// </summary>
    public SearchedParameters? Searched { get; init; }

    /// <summary>
    /// Applies one of the attribute's realisations (tried in a seeded order) and fits the child to the budget; null when none applies.
    /// With <see cref="Searched"/>, a realisation with a searched parameter is tried with values drawn from its domain
    /// (<see cref="SearchedParameters.Variants"/>: a value that does not apply to this parent gives way to the next in
    /// seeded order), realisations that differ only in searched parameters are tried once, and the summary names the
    /// values drawn.
    /// </summary>
    public AppliedIdea<ArchitectureSpec>? Apply(ArchitectureSpec parent, AttributeNode attribute, Random random)
    {
        var tried = Searched is null ? null : new HashSet<string>(StringComparer.Ordinal);
        foreach (var realisation in attribute.Realisations.OrderBy(_ => random.Next()).ToList())
        {
            if (Searched is not { } searched)
            {
                if (TryApply(parent, realisation, string.Empty) is { } child)
                {
                    return child;
                }

                continue;
            }

            if (!tried!.Add(searched.Template(realisation)))
            {
                continue;
            }

            foreach (var (variant, drawn) in searched.Variants(realisation, random))
            {
                if (TryApply(parent, variant, drawn.Length == 0 ? string.Empty : $" [drawn {drawn}]") is { } child)
                {
                    return child;
                }
            }
        }

        return null;
    }

    /// <summary>The child of one realisation fitted to the budget, its summary "via &lt;realisation&gt;&lt;note&gt;: &lt;what changed&gt;"; null when it does not apply.</summary>
    private AppliedIdea<ArchitectureSpec>? TryApply(ArchitectureSpec parent, Realisation realisation, string note)
    {
        try
        {
            var result = realisation.Apply(parent);
            var fitted = FitBudget(result.Spec);
            if (fitted.Id != parent.Id)
            {
                return new AppliedIdea<ArchitectureSpec>(fitted, $"via {realisation}{note}: {result.Summary}");
            }
        }
        catch (Exception e) when (e is TransformNotApplicableException or InvalidOperationException or ArgumentException)
        {
            // This realisation does not fit this parent (no such node, already present, cannot fit the budget): try the next.
        }

        return null;
    }

    /// <summary>The spec if it fits the budget, else the spec width-scaled into it.</summary>
    /// <exception cref="InvalidOperationException">the spec is invalid, or no width fits the budget.</exception>
    public ArchitectureSpec FitBudget(ArchitectureSpec spec) => FitBudget(spec, null);

    /// <summary>
    /// The spec if it fits the budget, else the spec width-scaled into it, counting LLM-written operators at the costs
    /// <paramref name="costs"/> gives (measured or estimated; a <c>custom</c> node not found there counts 0).
    /// </summary>
    /// <exception cref="InvalidOperationException">the spec is invalid, or no width fits the budget.</exception>
    public ArchitectureSpec FitBudget(ArchitectureSpec spec, IOperatorCosts? costs)
    {
        var analysis = ArchitectureAnalyzer.Analyze(spec, costs);
        if (!analysis.IsValid)
        {
            throw new InvalidOperationException($"invalid architecture: {string.Join("; ", analysis.Errors)}");
        }

        if (analysis.Parameters <= Budget)
        {
            return spec;
        }

        var scaled = WidthScaler.ScaleToBudget(spec, Budget, costs: costs);
        return scaled.Parameters <= Budget && ArchitectureAnalyzer.Analyze(scaled.Spec, costs).IsValid
            ? scaled.Spec
            : throw new InvalidOperationException($"no width fits {Budget:N0} parameters");
    }
}
