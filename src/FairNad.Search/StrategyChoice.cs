namespace FairNad.Search;

/// <summary>The families of strategy; FairNAD's ablations are FairNAD with a mutation type or the feedback switched off.</summary>
public enum StrategyKind
{
    FairNad,
    Random,
    Rea,
    Local,
}

/// <summary>
/// A strategy name (fairnad, fairnad-no-pareto, random, rea, ...) parsed once: its family, the mutation types it must not
/// use and whether feedback steers it. Searches and the NAS-Bench-201 benchmark build their strategies from it with
/// <see cref="Create{T}"/>, so a name means the same strategy everywhere.
/// </summary>
/// <param name="Name">The name as given; FairNAD strategies carry it (it names their ablation in reports).</param>
/// <param name="DisabledMutations">The ablated mutation type, and LLM-driven mutation when the LLM is off.</param>
/// <param name="Feedback">Whether feedback statistics steer attribute sampling and LLM prompts (off for fairnad-no-feedback).</param>
public sealed record StrategyChoice(string Name, StrategyKind Kind, IReadOnlyList<string> DisabledMutations, bool Feedback)
{
    private const string AblationPrefix = "fairnad-no-";

    private const string NoFeedback = AblationPrefix + "feedback";

    /// <summary>Whether the strategy draws mutation types (FairNAD and its ablations).</summary>
    public bool DrawsMutations => Kind == StrategyKind.FairNad;

    /// <summary>Whether the strategy would use an LLM mutator if one were given.</summary>
    public bool UsesLlm => Kind == StrategyKind.FairNad && !DisabledMutations.Contains(MutationTypes.Llm);

    /// <param name="llmOff">No LLM is available: LLM-driven mutation is disabled and its share redistributed.</param>
    /// <exception cref="ArgumentException">the name is no strategy.</exception>
    public static StrategyChoice Parse(string name, bool llmOff = false)
    {
        var kind = name switch
        {
            "random" => StrategyKind.Random,
            "rea" => StrategyKind.Rea,
            "local" => StrategyKind.Local,
            _ when name == "fairnad" || (name.StartsWith(AblationPrefix, StringComparison.Ordinal) && name.Length > AblationPrefix.Length) => StrategyKind.FairNad,
            _ => throw new ArgumentException($"unknown strategy '{name}'"),
        };
        var disabled = new List<string>();
        if (name.StartsWith(AblationPrefix, StringComparison.Ordinal) && name != NoFeedback)
        {
            disabled.Add(name[AblationPrefix.Length..]);
        }

        if (llmOff && !disabled.Contains(MutationTypes.Llm))
        {
            disabled.Add(MutationTypes.Llm);
        }

        return new StrategyChoice(name, kind, disabled, name != NoFeedback);
    }

    /// <summary>The mutation mix this strategy draws from: <paramref name="configured"/> with the disabled types' shares redistributed.</summary>
    /// <exception cref="ArgumentException">every type with a share is disabled.</exception>
    public MutationMix Mix(MutationMix configured) => configured.Effective(DisabledMutations);

    /// <summary>The strategy over <paramref name="space"/> (an <see cref="IIdeaSpace{T}"/> for FairNAD, an <see cref="INeighbourhood{T}"/> for local search).</summary>
    /// <param name="llm">Used by FairNAD unless LLM-driven mutation is disabled.</param>
    /// <param name="baselineSeeds">
    /// The seed population random search and REA propose first (FairNAD always starts from its space's); null keeps the
    /// baselines as they were (REA's population random samples), so recorded runs replay unchanged.
    /// </param>
    /// <param name="rules">FairNAD's search rules (<see cref="FairNadOptions.Rules"/>): a recorded run's own, else the current ones.</param>
    public IAskTellStrategy<T> Create<T>(ISearchSpace<T> space, int seed, MutationMix mix, int population, int tournament, ILlmMutator<T>? llm = null,
        IReadOnlyList<(T Candidate, string Summary)>? baselineSeeds = null, int rules = FairNadOptions.CurrentRules) => Kind switch
    {
        StrategyKind.Random => new RandomSearch<T>(space, seed, baselineSeeds),
        StrategyKind.Rea => new RegularizedEvolution<T>(space, seed, population, tournament, baselineSeeds),
        StrategyKind.Local => new LocalSearch<T>(space, space as INeighbourhood<T> ?? throw new ArgumentException("local search needs a space with neighbourhoods"), seed),
        _ => new FairNadStrategy<T>(space as IIdeaSpace<T> ?? throw new ArgumentException("FairNAD needs a space of ideas"),
            new FairNadOptions(Mix(mix), population, tournament, Feedback, Rules: rules), seed, UsesLlm ? llm : null, Name),
    };
}
