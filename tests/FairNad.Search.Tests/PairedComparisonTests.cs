namespace FairNad.Search.Tests;

public sealed class PairedComparisonTests
{
    [Fact]
    public void Holm_KnownExample_MatchesRPAdjust()
    {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") gives 0.03 0.06 0.06 0.02: sorted 0.005 x 4, 0.01 x 3, 0.03 x 2,
        // 0.04 x 1 = 0.04 raised to the 0.06 before it.
        var adjusted = Statistics.Holm([0.01, 0.04, 0.03, 0.005]);

        Assert.Equal([0.03, 0.06, 0.06, 0.02], adjusted.Select(p => Math.Round(p, 12)));
    }

    [Fact]
    public void Holm_LargeProducts_CappedAtOne()
    {
        // R: p.adjust(c(0.6, 0.7, 0.01), "holm") gives 1 1 0.03 (0.6 x 2 capped at 1; 0.7 x 1 raised to it), and
        // p.adjust(c(0.2, 0.5, 0.01), "holm") gives 0.4 0.5 0.03 (0.5 x 1 is above 0.4: kept).
        Assert.Equal([1.0, 1.0, 0.03], Statistics.Holm([0.6, 0.7, 0.01]).Select(p => Math.Round(p, 12)));
        Assert.Equal([0.4, 0.5, 0.03], Statistics.Holm([0.2, 0.5, 0.01]).Select(p => Math.Round(p, 12)));
        Assert.Equal([0.7], Statistics.Holm([0.7]));
        Assert.Empty(Statistics.Holm([]));
    }

    [Fact]
    public void Holm_RandomFamilies_KeepOrderBetweenRawAndBonferroni()
    {
        var random = new Random(7);
        for (var family = 0; family < 200; family++)
        {
            var p = Enumerable.Range(0, 1 + random.Next(12)).Select(_ => random.NextDouble() * random.NextDouble()).ToList();

            var adjusted = Statistics.Holm(p);

            for (var i = 0; i < p.Count; i++)
            {
                Assert.InRange(adjusted[i], p[i], Math.Min(1, p.Count * p[i]) + 1e-15);
                for (var j = 0; j < p.Count; j++)
                {
                    if (p[i] < p[j])
                    {
                        Assert.True(adjusted[i] <= adjusted[j], $"family {family}: p {p[i]} < {p[j]} but adjusted {adjusted[i]} > {adjusted[j]}");
                    }
                }
            }
        }
    }

    [Fact]
    public void Holm_NotAProbability_Throws()
    {
        Assert.Throws<ArgumentException>(() => Statistics.Holm([0.1, 1.5]));
        Assert.Throws<ArgumentException>(() => Statistics.Holm([double.NaN]));
    }

    [Fact]
    public void Family_ShiftedSamples_DirectionDifferenceAndHolmOverTheFamily()
    {
        double[] reference = [70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81];
        var lower = reference.Select((v, i) => v - 1 - (0.01 * i)).ToList();
        var same = reference.ToList();

        var family = PairedComparisons.Family("d", 100, "fairnad", reference, [("lower", lower), ("same", same)]);

        Assert.Equal(("lower", "better", 2), (family[0].Other, family[0].Direction, family[0].FamilySize));
        Assert.Equal(1.055, family[0].MeanDifference, 9);
        Assert.Equal(Math.Min(1, 2 * family[0].Test.P), family[0].HolmP, 12);
        Assert.True(family[0].Significant);
        Assert.Equal(("tied", 1.0, false), (family[1].Direction, family[1].HolmP, family[1].Significant));
    }

    [Fact]
    public void Wilcoxon_PairWithNoResult_DroppedLikeAZeroDifference()
    {
        double[] x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30, double.NaN];
        double[] y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29, 5];

        var result = Statistics.Wilcoxon(x, y);

        Assert.Equal((9, 40.0), (result.N, result.WPlus));
        Assert.Equal(0.04401, result.P, 4);
    }

    [Fact]
    public void Run_WithFairNad_OneHolmFamilyPerDatasetAndBudget()
    {
        var settings = new Nb201BenchmarkSettings(["cifar100"], ["rea", "fairnad", "random"], [10, 30], 3);

        var result = Nb201Benchmark.Run(settings);

        Assert.Equal([(10, "rea"), (10, "random"), (30, "rea"), (30, "random")], result.Comparisons.Select(c => (c.Budget, c.Other)));
        Assert.All(result.Comparisons, c => Assert.Equal(2, c.FamilySize));
        foreach (var family in result.Comparisons.GroupBy(c => c.Budget))
        {
            Assert.Equal(Statistics.Holm(family.Select(c => c.Test.P).ToList()), family.Select(c => c.HolmP));
            var fairnad = result.Rows.Single(r => r.Budget == family.Key && r.Strategy == "fairnad");
            Assert.All(family, c => Assert.Equal(fairnad.MeanTest - result.Rows.Single(r => r.Budget == family.Key && r.Strategy == c.Other).MeanTest, c.MeanDifference, 9));
        }

        Assert.Contains("| 30 | random |", Nb201Benchmark.Markdown(result), StringComparison.Ordinal);
        Assert.Empty(Nb201Benchmark.Run(settings with { Strategies = ["rea", "random"] }).Comparisons);
    }

    [Theory]
    [InlineData(new[] { 3.0, 2.0, 1.0 }, 0.25, 0.25)]
    [InlineData(new[] { 3.0, -2.0, 1.0 }, 0.75, 0.25)]
    [InlineData(new[] { 1.0, 2.0, 3.0, 4.0, 5.0, 6.0 }, 0.03125, 0.03125)]
    [InlineData(new[] { 0.0, 0.0 }, 1.0, 1.0)]
    [InlineData(new[] { 3.0, double.NaN, 1.0 }, 0.5, 0.5)]
    public void WilcoxonExact_SmallSamples_ExactTwoSidedP(double[] differences, double p, double smallest)
    {
        var zeros = differences.Select(_ => 0.0).ToList();

        var (exact, least) = Statistics.WilcoxonExact(differences, zeros);

        Assert.Equal(p, exact, 9);
        Assert.Equal(smallest, least, 9);
    }

    [Fact]
    public void WilcoxonExact_UnequalLengths_Throws()
    {
        Assert.Throws<ArgumentException>(() => Statistics.WilcoxonExact([1.0, 2.0], [1.0]));
    }
}
