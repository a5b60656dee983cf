using FairNad.Architecture;
using FairNad.Knowledge;

namespace FairNad.Search.Tests;

public sealed class FairIdeaSamplerTests
{
    /// <summary>A tree with one category of one attribute and one category of six, so level-by-level uniform sampling would be unfair.</summary>
    private static AttributeTree Lopsided()
    {
        AttributeNode A(string id) => new(id, id, "d", "accuracy", [], []);
        return new AttributeTree(1, new Provenance("test", "t", null, null),
        [
            new GranularityNode("g", "G",
            [
                new CategoryNode("g.small", "Small", [A("g.small.only")]),
                new CategoryNode("g.large", "Large", [.. Enumerable.Range(0, 6).Select(i => A($"g.large.a{i}"))]),
            ]),
        ]);
    }

    [Fact]
    public void Next_LopsidedTree_EveryAttributeTriedEquallyOften()
    {
        var sampler = new FairIdeaSampler(Lopsided(), seed: 1);

        for (var i = 0; i < 70; i++)
        {
            sampler.Next();
        }

        Assert.Equal(7, sampler.Tries.Count);
        Assert.All(sampler.Tries.Values, t => Assert.Equal(10, t));
    }

    [Fact]
    public void Next_SameSeed_SameSequenceOtherSeedDiffers()
    {
        string[] Run(int seed)
        {
            var sampler = new FairIdeaSampler(AttributeTree.Default(), seed);
            return Enumerable.Range(0, 30).Select(_ => sampler.Next().Attribute.Id).ToArray();
        }

        Assert.Equal(Run(5), Run(5));
        Assert.NotEqual(Run(5), Run(6));
    }

    [Fact]
    public void Next_PreferEfficiency_OnlyEfficiencyAttributesWhileAnyExist()
    {
        var sampler = new FairIdeaSampler(AttributeTree.Default(), 3);

        var picks = Enumerable.Range(0, 10).Select(_ => sampler.Next(a => a.Effect == "efficiency").Attribute).ToList();

        Assert.All(picks, a => Assert.Equal("efficiency", a.Effect));
        Assert.Equal(10, picks.Select(a => a.Id).Distinct().Count());
    }

    [Fact]
    public void Constructor_OnlyRealisable_NeverPicksAnLlmOnlyAttribute()
    {
        var sampler = new FairIdeaSampler(AttributeTree.Default(), 3, a => a.Realisations.Count > 0);

        var picks = Enumerable.Range(0, 60).Select(_ => sampler.Next().Attribute).ToList();

        Assert.All(picks, a => Assert.NotEmpty(a.Realisations));
    }

    [Fact]
    public void Next_RealisedAttributes_ApplyToAReference()
    {
        var sampler = new FairIdeaSampler(AttributeTree.Default(), 9, a => a.Realisations.Count > 0);
        var applied = 0;
        for (var i = 0; i < 31; i++)
        {
            var attribute = sampler.Next().Attribute;
            foreach (var reference in ReferenceArchitectures.Names)
            {
                try
                {
                    attribute.Realisations[0].Apply(ReferenceArchitectures.Get(reference));
                    applied++;
                    break;
                }
                catch (FairNad.Architecture.Transforms.TransformNotApplicableException)
                {
                }
            }
        }

        Assert.Equal(31, applied);
    }
}

public sealed class ParetoFrontTests
{
    private static readonly Objectives[] Points =
    [
        new("a", 90, 100), new("b", 92, 200), new("c", 89, 150), new("d", 95, 400), new("e", 92, 250), new("f", 85, 50),
    ];

    [Fact]
    public void Front_MixedPoints_NonDominatedByCost()
    {
        Assert.Equal(["f", "a", "b", "d"], ParetoFront.Front(Points).Select(p => p.Id));
    }

    [Fact]
    public void Ranks_MixedPoints_SecondFrontAfterTheFirst()
    {
        var ranks = ParetoFront.Ranks(Points);

        Assert.Equal(0, ranks["a"]);
        Assert.Equal(1, ranks["c"]);
        Assert.Equal(1, ranks["e"]);
    }

    [Fact]
    public void WeakObjective_Extremes_CheapestIsWeakInAccuracyMostAccurateInCost()
    {
        var front = ParetoFront.Front(Points);

        Assert.Equal("accuracy", ParetoFront.WeakObjective(front[0], front));
        Assert.Equal("efficiency", ParetoFront.WeakObjective(front[^1], front));
    }

    [Fact]
    public void HypervolumeContributions_FrontOfFour_ExclusiveAreasWithTheMarginReference()
    {
        // Front f(50, 85), a(100, 90), b(200, 92), d(400, 95): cost losses 0, 1/7, 3/7, 1; accuracy losses 1, 1/2, 3/10, 0;
        // reference 1 + 1/3 on both axes.
        var front = ParetoFront.Front(Points);

        var contributions = ParetoFront.HypervolumeContributions(front);

        double[] expected = [(1 / 7.0) * (1 / 3.0), (2 / 7.0) * 0.5, (4 / 7.0) * 0.2, (1 / 3.0) * 0.3];
        Assert.Equal(expected, contributions, (x, y) => Math.Abs(x - y) < 1e-12);
    }

    [Fact]
    public void HypervolumeContributions_CheapCornerBarelyAboveNextMember_WeighsLeastOfAll()
    {
        // A degenerate corner: far cheaper, but hardly less accurate than nothing, a knee in the middle.
        Objectives[] points = [new("corner", 10.0, 0), new("cheap", 10.5, 100), new("knee", 60, 110), new("top", 62, 1000)];
        var front = ParetoFront.Front(points);

        var contributions = ParetoFront.HypervolumeContributions(front);

        Assert.Equal(["corner", "cheap", "knee", "top"], front.Select(p => p.Id));
        Assert.True(contributions[1] < contributions[2] && contributions[1] < contributions[3], string.Join(", ", contributions));
        Assert.Equal(contributions.Max(), contributions[2]);
        Assert.All(contributions, c => Assert.True(c > 0));
    }

    [Fact]
    public void HypervolumeContributions_SingleMember_Positive()
    {
        Assert.True(Assert.Single(ParetoFront.HypervolumeContributions([new Objectives("only", 50, 10)])) > 0);
    }
}

public sealed class FeedbackLedgerTests
{
    [Fact]
    public void Aggregates_PerAttributeAndCategory_WithFailures()
    {
        var ledger = new FeedbackLedger();
        ledger.Record(new("op.a", "op", true, 1.5, 1000, null));
        ledger.Record(new("op.a", "op", true, -0.5, -200, null));
        ledger.Record(new("op.a", "op", false, null, null, "invalid-spec"));
        ledger.Record(new("op.b", "op", false, null, null, "timeout"));

        var a = ledger.For("op.a")!;
        var category = Assert.Single(ledger.ByCategory());

        Assert.Equal((3, 2, 1, 0.5, 400.0), (a.Tries, a.Valid, a.Improved, a.MeanAccuracyDelta, a.MeanCostDelta));
        Assert.Equal(1, a.Failures["invalid-spec"]);
        Assert.Equal((4, 2), (category.Tries, category.Valid));
        Assert.Equal(new Dictionary<string, int> { ["invalid-spec"] = 1, ["timeout"] = 1 }, category.Failures);
        Assert.Contains("op.a: 3 tries, 2 valid, 1 improved accuracy, mean accuracy change +0.50 points, mean parameter change +400; failures: invalid-spec x1", ledger.PromptSummary("op.a", "op"));
        Assert.Equal("no earlier tries\n", ledger.PromptSummary("x", "y"));
    }

    [Fact]
    public void Penalty_NotApplicable_CountedApartNotAsFailureOrTry()
    {
        var ledger = new FeedbackLedger();
        ledger.Record(new("op.rare", "op", false, null, null, null, NotApplicable: true));
        ledger.Record(new("op.rare", "op", false, null, null, null, NotApplicable: true));
        ledger.Record(new("op.rare", "op", true, 0.2, 10, null));
        ledger.Record(new("op.old", "op", false, null, null, "not-applicable"));

        var rare = ledger.For("op.rare")!;

        Assert.Equal((1, 1, 2, 0), (rare.Tries, rare.Valid, rare.NotApplicable, rare.Failures.Count));
        Assert.Equal(-0.5, ledger.Penalty("op.rare"));
        Assert.Equal(1, ledger.Penalty("op.old")); // rules 1 recorded inapplicability as a failure, and still reads so
        Assert.Contains("not applicable to 2 parent(s) (not counted as failures)", ledger.PromptSummary("op.rare", "op"), StringComparison.Ordinal);
    }

    [Fact]
    public void MeasuredEffect_ThreeMeasuredTries_SignOfMeanCostChange()
    {
        var ledger = new FeedbackLedger();
        ledger.Record(new("op.shrink", "op", true, 0.1, -50, null));
        ledger.Record(new("op.shrink", "op", true, -0.3, -20, null));
        ledger.Record(new("op.shrink", "op", false, null, null, "timeout"));
        ledger.Record(new("op.grow", "op", true, 0.5, 0, null));
        ledger.Record(new("op.grow", "op", true, 0.5, 0, null));
        ledger.Record(new("op.grow", "op", true, 0.5, 0, null));

        Assert.Null(ledger.MeasuredEffect("op.shrink")); // two measured tries: the declared tag stands in
        Assert.Equal("accuracy", ledger.MeasuredEffect("op.grow")); // saves nothing: tried for accuracy
        ledger.Record(new("op.shrink", "op", true, 0.0, 30, null));
        Assert.Equal("efficiency", ledger.MeasuredEffect("op.shrink"));
        Assert.Equal(3, ledger.For("op.shrink")!.Measured);
    }
}
