using FairNad.Architecture;
using FairNad.Architecture.Transforms;
using FairNad.Knowledge;

namespace FairNad.Search.Tests;

/// <summary>Searched transform parameters: domains checked, values drawn at Apply time, and no draw at all when none applies.</summary>
public sealed class SearchedParametersTests
{
    private static readonly InputSpec Fashion = new(1, 28, 10);

    private static readonly IReadOnlyList<ArchitectureSpec> Seeds = ArchitectureSpace.ScaledReferences(["resnet", "mobilenetv2", "convnext"], Fashion, 20_000);

    private static SearchedParameters Domains(params (string Name, double[] Values)[] domains) =>
        new(domains.ToDictionary(d => d.Name, d => (IReadOnlyList<double>)d.Values));

    private static ArchitectureSpace Space(SearchedParameters? searched) => new(AttributeTree.Default(), Seeds, 20_000) { Searched = searched };

    private static AttributeNode Attribute(string id) => AttributeTree.Default().Find(id)!;

    /// <summary>Apply as it was before parameters could be searched: realisations in a seeded order, the first that changes the parent.</summary>
    private static AppliedIdea<ArchitectureSpec>? ApplyAsBefore(ArchitectureSpace space, ArchitectureSpec parent, AttributeNode attribute, Random random)
    {
        foreach (var realisation in attribute.Realisations.OrderBy(_ => random.Next()).ToList())
        {
            try
            {
                var result = realisation.Apply(parent);
                var fitted = space.FitBudget(result.Spec);
                if (fitted.Id != parent.Id)
                {
                    return new AppliedIdea<ArchitectureSpec>(fitted, $"via {realisation}: {result.Summary}");
                }
            }
            catch (Exception e) when (e is TransformNotApplicableException or InvalidOperationException or ArgumentException)
            {
            }
        }

        return null;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Apply_NoSearchedParameterApplies_SameChildAndSameDrawsAsBefore(bool kernelSearched)
    {
        // With the kernel searched, attributes whose transforms take no kernel must not draw either.
        var space = Space(kernelSearched ? Domains(("kernel", [3, 5, 7])) : null);
        var kernelTakers = new[] { "larger_kernel", "add_parallel_branch", "conv_stem" };
        var attributes = AttributeTree.Default().Attributes.Select(a => a.Attribute)
            .Where(a => a.Realisations.Count > 0 && (!kernelSearched || a.Realisations.All(r => !kernelTakers.Contains(r.Transform)))).ToList();
        var compared = 0;
        for (var seed = 0; seed < 4; seed++)
        {
            var (now, before) = (new Random(seed), new Random(seed));
            foreach (var parent in Seeds)
            {
                foreach (var attribute in attributes)
                {
                    var child = space.Apply(parent, attribute, now);
                    var expected = ApplyAsBefore(space, parent, attribute, before);
                    Assert.Equal(expected?.Candidate.Id, child?.Candidate.Id);
                    Assert.Equal(expected?.Summary, child?.Summary);
                    compared += child is null ? 0 : 1;
                }

                Assert.Equal(before.Next(), now.Next());
            }
        }

        Assert.True(compared > 20, $"only {compared} attributes applied");
    }

    [Fact]
    public void Apply_KernelSearched_DrawsFromTheDomainSkippingValuesThatDoNotApply()
    {
        // The resnet seed's kernels are 3: larger_kernel with kernel 3 changes nothing, so 3 gives way to 5 or 7.
        var space = Space(Domains(("kernel", [3, 5, 7])));
        var parent = Seeds[0];
        var drawn = new HashSet<int>();
        for (var seed = 0; seed < 24; seed++)
        {
            var child = space.Apply(parent, Attribute("operator.feature-extraction.large-kernel"), new Random(seed))!;
            var again = space.Apply(parent, Attribute("operator.feature-extraction.large-kernel"), new Random(seed))!;
            Assert.Equal(child.Candidate.Id, again.Candidate.Id);
            Assert.Equal(child.Summary, again.Summary);

            var kernels = child.Candidate.Block.Nodes.Where(n => n.Op == "conv" && n.Params.TryGetValue("kernel", out var k) && k.Number > 1).Select(n => (int)n.Params["kernel"].Number!.Value).Distinct().ToList();
            var kernel = Assert.Single(kernels);
            Assert.Contains($"via larger_kernel(kernel={kernel}) [drawn kernel={kernel} of {{3, 5, 7}}]: enlarge spatial kernels to {kernel} x {kernel}", child.Summary, StringComparison.Ordinal);
            drawn.Add(kernel);
        }

        Assert.Equal([5, 7], drawn.Order());
    }

    [Fact]
    public void Apply_ExpansionSearched_SeveralValuesAcrossSeedsEachNamedInTheSummary()
    {
        var space = Space(Domains(("expand", [2, 3, 4, 6])));
        var drawn = new HashSet<double>();
        for (var seed = 0; seed < 24; seed++)
        {
            var child = space.Apply(Seeds[0], Attribute("operator.feature-extraction.inverted-bottleneck"), new Random(seed))!;
            var expand = child.Candidate.Block.Nodes.Single(n => n.Op == "inverted_residual").Params["expand"].Number!.Value;
            Assert.Contains(expand, new[] { 2.0, 3.0, 4.0, 6.0 });
            Assert.Contains($"[drawn expand={expand} of {{2, 3, 4, 6}}]", child.Summary, StringComparison.Ordinal);
            drawn.Add(expand);
        }

        Assert.True(drawn.Count >= 3, $"only {string.Join(", ", drawn)} drawn in 24 seeds");
    }

    [Fact]
    public void Apply_NoValueApplies_NullAfterTryingEachOnce()
    {
        // Kernel 3 never enlarges the resnet seed's 3 x 3 kernels: the attribute does not apply.
        var space = Space(Domains(("kernel", [3])));

        Assert.Null(space.Apply(Seeds[0], Attribute("operator.feature-extraction.large-kernel"), new Random(0)));
    }

    [Fact]
    public void Variants_NoSearchedParameter_TheRealisationItselfWithoutADraw()
    {
        var searched = Domains(("kernel", [3, 5]));
        var realisation = Attribute("operator.activation.gelu").Realisations[0];
        var (random, untouched) = (new Random(9), new Random(9));

        var variants = searched.Variants(realisation, random);

        Assert.Same(realisation, Assert.Single(variants).Realisation);
        Assert.Equal(untouched.Next(), random.Next());
    }

    [Fact]
    public void MutateDescribed_SameDrawsAsMutateAndNamesTheEdit()
    {
        var space = Space(Domains(("kernel", [5, 7]), ("expand", [2, 6])));
        var (a, b) = (new Random(4), new Random(4));
        var spec = Seeds[1];
        for (var i = 0; i < 10; i++)
        {
            var (described, summary) = space.MutateDescribed(spec, a);
            Assert.Equal(space.Mutate(spec, b).Id, described.Id);
            Assert.StartsWith("via ", summary, StringComparison.Ordinal);
            spec = described;
        }

        Assert.True(space.DescribesMutations);
        Assert.False(Space(null).DescribesMutations);
    }

    [Theory]
    [InlineData("groups", new[] { 2.0 }, "groups: not a searchable transform parameter (searchable: blocks, expand, factor, heads, init, kernel, p, patch, stride)")]
    [InlineData("stage", new[] { 1.0 }, "stage: not a searchable")]
    [InlineData("kernel", new double[0], "kernel: the domain is empty")]
    [InlineData("kernel", new[] { 3.0, 0.0 }, "kernel[1]: 0 is not positive")]
    [InlineData("expand", new[] { -2.0 }, "expand[0]: -2 is not positive")]
    [InlineData("kernel", new[] { 3.0, 3.0 }, "kernel[1]: 3 is listed twice")]
    [InlineData("kernel", new[] { 5.5 }, "kernel[0]: 5.5 is not a whole number, which add_parallel_branch needs")]
    [InlineData("kernel", new[] { 3.0, 9.0 }, "kernel[1]: 9 is outside 1..7, which add_parallel_branch accepts")]
    [InlineData("expand", new[] { 12.0 }, "expand[0]: 12 is outside 1..8, which inverted_bottleneck accepts")]
    public void Problem_BadDomain_NamesTheParameterAndValue(string name, double[] values, string expected)
    {
        var domains = new Dictionary<string, IReadOnlyList<double>> { [name] = values };

        Assert.StartsWith(expected, SearchedParameters.Problem(domains), StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new SearchedParameters(domains));
    }

    [Fact]
    public void Problem_UsableDomains_Null()
    {
        Assert.Null(SearchedParameters.Problem(new Dictionary<string, IReadOnlyList<double>> { ["kernel"] = [3, 5, 7], ["expand"] = [2, 3, 4, 6] }));
        Assert.StartsWith("name at least one parameter", SearchedParameters.Problem(new Dictionary<string, IReadOnlyList<double>>()), StringComparison.Ordinal);
    }
}
