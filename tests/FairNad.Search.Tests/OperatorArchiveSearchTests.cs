using FairNad.Architecture;
using FairNad.Architecture.Transforms;
using FairNad.Knowledge;
using FairNad.Tests.Shared;

namespace FairNad.Search.Tests;

/// <summary>Archived operators become realisations of their attribute during a search, once the candidate that introduced them is recorded.</summary>
public sealed class OperatorArchiveSearchTests : IDisposable
{
    private static readonly InputSpec Fashion = new(1, 28, 10);
    private readonly List<string> _directories = [];

    public void Dispose()
    {
        foreach (var d in _directories.Where(Directory.Exists))
        {
            Directory.Delete(d, recursive: true);
        }
    }

    private OperatorArchive NewArchive()
    {
        var directory = Path.Combine(Path.GetTempPath(), "fairnad-archive-search-" + Guid.NewGuid().ToString("N"));
        _directories.Add(directory);
        return new OperatorArchive(directory);
    }

    /// <summary>
    /// Stands in for the LLM: the first time, it "writes" the ghost operator into the parent (as the session's mutator
    /// does: source into the store, then the archive entry naming the attribute and the child); later, it reuses a realisation.
    /// </summary>
    private sealed class WritingMutator(OperatorArchive archive, ArchitectureSpace space) : ILlmMutator<ArchitectureSpec>
    {
        public string? Attribute { get; private set; }

        public Task<LlmMutationResult<ArchitectureSpec>> MutateAsync(ArchitectureSpec parent, AttributeNode attribute, CategoryNode category, string feedback, CancellationToken cancel = default)
        {
            var reference = OperatorSources.Hash(WrittenOperators.Ghost);
            if (Attribute is null)
            {
                try
                {
                    var child = space.FitBudget(SpecTransforms.Apply(SpecTransforms.CustomOperatorTransform, parent, new Dictionary<string, ParamValue> { ["source"] = reference }).Spec);
                    archive.Store.Put(WrittenOperators.Ghost);
                    archive.Add(new OperatorEntry(reference, "GhostModule", "contract", attribute.Id, "run", child.Id, OperatorEntry.GeneratedLicence, []));
                    Attribute = attribute.Id;
                    return Task.FromResult(new LlmMutationResult<ArchitectureSpec>(child, "t", "wrote a ghost module", 1));
                }
                catch (TransformNotApplicableException)
                {
                }
            }

            throw new LlmMutationException("no answer");
        }
    }

    private static IReadOnlyList<Trial<ArchitectureSpec>> Run(FairNadStrategy<ArchitectureSpec> strategy, int budget) =>
        StrategyDriver.Run(new Deduplicating<ArchitectureSpec>(strategy), new Table(), budget);

    private sealed class Table : IEvaluator<ArchitectureSpec>
    {
        public Outcome Evaluate(ArchitectureSpec candidate) =>
            new(50 + (Convert.ToInt32(candidate.Id[..2], 16) / 16.0), ArchitectureAnalyzer.Analyze(candidate).Parameters);
    }

    private (FairNadStrategy<ArchitectureSpec> Strategy, WritingMutator Mutator, IReadOnlyList<Trial<ArchitectureSpec>> Trials) Search(int seed)
    {
        var archive = NewArchive();
        var space = new ArchitectureSpace(AttributeTree.Default(), ArchitectureSpace.ScaledReferences(["resnet", "mobilenetv2"], Fashion, 20_000), 20_000) { Operators = archive };
        var mutator = new WritingMutator(archive, space);
        var strategy = new FairNadStrategy<ArchitectureSpec>(space, new FairNadOptions(new MutationMix(0.7, 0, 0.3), 4), seed, mutator);
        return (strategy, mutator, Run(strategy, 120));
    }

    [Fact]
    public void Run_OperatorWritten_BecomesARealisationOfItsAttributeAndIsApplied()
    {
        var (strategy, mutator, trials) = Search(seed: 3);

        Assert.NotNull(mutator.Attribute);
        var gained = strategy.Tree.Find(mutator.Attribute!)!.Realisations.Single(r => r.Transform == SpecTransforms.CustomOperatorTransform);
        Assert.Equal(OperatorSources.Hash(WrittenOperators.Ghost), gained.Params["source"].Text);
        Assert.DoesNotContain(AttributeTree.Default().Find(mutator.Attribute!)!.Realisations, r => r.Transform == SpecTransforms.CustomOperatorTransform);
        var introduced = trials.Single(t => t.Proposal.MutationType == MutationTypes.Llm);
        var reused = trials.Where(t => t.Proposal.MutationType != MutationTypes.Llm && t.Proposal.Summary!.Contains("via custom_operator", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(reused);
        Assert.All(reused, t => Assert.True(trials.ToList().IndexOf(t) > trials.ToList().IndexOf(introduced)));
        Assert.All(reused, t => Assert.Equal(mutator.Attribute, t.Proposal.Attribute));
    }

    [Fact]
    public void Run_SameSeed_SameTrialsAndTree()
    {
        var a = Search(seed: 3);
        var b = Search(seed: 3);

        Assert.Equal(a.Trials.Select(t => (t.Key, t.Proposal.MutationType, t.Proposal.Attribute)), b.Trials.Select(t => (t.Key, t.Proposal.MutationType, t.Proposal.Attribute)));
        Assert.Equal(a.Strategy.Tree.Write(), b.Strategy.Tree.Write());
    }

    [Fact]
    public void Discovered_OnlyTheIntroducingCandidate_BringsTheRealisation()
    {
        var archive = NewArchive();
        var space = new ArchitectureSpace(AttributeTree.Default(), ArchitectureSpace.ScaledReferences(["resnet"], Fashion, 20_000), 20_000) { Operators = archive };
        var reference = archive.Store.Put(WrittenOperators.Ghost);
        var child = SpecTransforms.Apply(SpecTransforms.CustomOperatorTransform, space.Seeds[0], new Dictionary<string, ParamValue> { ["source"] = reference }).Spec;
        var reuser = SpecTransforms.Apply("head_dropout", child).Spec;
        archive.Add(new OperatorEntry(reference, "GhostModule", "contract", "operator.activation.hard-swish", "run", child.Id, OperatorEntry.GeneratedLicence, []));

        Assert.Equal([("operator.activation.hard-swish", OperatorRealisations.For(reference).ToString())], space.Discovered(child).Select(d => (d.AttributeId, d.Realisation.ToString())));
        Assert.Empty(space.Discovered(reuser));
        Assert.Empty(new ArchitectureSpace(AttributeTree.Default(), space.Seeds, 20_000).Discovered(child));
    }
}
