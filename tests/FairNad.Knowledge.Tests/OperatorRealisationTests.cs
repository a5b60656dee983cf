using FairNad.Architecture;
using FairNad.Architecture.Transforms;

namespace FairNad.Knowledge.Tests;

/// <summary>Archived operators as realisations of the tree, and the realised share.</summary>
public sealed class OperatorRealisationTests
{
    private static readonly string ReferenceA = "sha256:" + new string('a', 64);
    private static readonly string ReferenceB = "sha256:" + new string('b', 64);

    private static OperatorEntry Entry(string reference, string attribute) =>
        new(reference, "Op", "contract", attribute, "run", "candidate", OperatorEntry.GeneratedLicence, []);

    [Fact]
    public void RealisedShare_CuratedTree_CountsAttributesWithARealisation()
    {
        var tree = AttributeTree.Default();
        var attributes = tree.Attributes.Select(x => x.Attribute).ToList();

        var share = RealisedShare.Of(tree);

        Assert.Equal(attributes.Count, share.Attributes);
        Assert.Equal(attributes.Count(a => a.Realisations.Count > 0), share.Realised);
        Assert.Equal((double)share.Realised / share.Attributes, share.Fraction, 12);
        Assert.Equal(0, new RealisedShare(0, 0).Fraction);
        Assert.Equal("3/4 (75.0%)", new RealisedShare(3, 4).ToString());
    }

    [Fact]
    public void WithOperators_UnrealisedAttribute_GainsOneAndTheShareRises()
    {
        var tree = AttributeTree.Default();
        var unrealised = tree.Attributes.Select(x => x.Attribute).First(a => a.Realisations.Count == 0);
        var realised = tree.Attributes.Select(x => x.Attribute).First(a => a.Realisations.Count > 0);
        var before = RealisedShare.Of(tree);

        var after = tree.WithOperators([Entry(ReferenceB, unrealised.Id), Entry(ReferenceA, realised.Id), Entry(ReferenceA, realised.Id)]);

        Assert.Equal(before with { Realised = before.Realised + 1 }, RealisedShare.Of(after));
        var gained = after.Find(unrealised.Id)!.Realisations.Single();
        Assert.Equal(SpecTransforms.CustomOperatorTransform, gained.Transform);
        Assert.Equal(ReferenceB, gained.Params["source"].Text);
        Assert.Equal(realised.Realisations.Count + 1, after.Find(realised.Id)!.Realisations.Count);
        Assert.Equal(before, RealisedShare.Of(tree));
    }

    [Fact]
    public void WithOperators_EntriesInAnyOrder_SameTree()
    {
        var tree = AttributeTree.Default();
        var id = tree.Attributes.First().Attribute.Id;

        var one = tree.WithOperators([Entry(ReferenceA, id), Entry(ReferenceB, id)]);
        var other = tree.WithOperators([Entry(ReferenceB, id), Entry(ReferenceA, id)]);

        Assert.Equal(one.Write(), other.Write());
    }

    [Fact]
    public void WithRealisation_UnknownAttribute_TreeUnchanged()
    {
        var tree = AttributeTree.Default();

        Assert.Same(tree, tree.WithRealisation("operator.no-such-thing", OperatorRealisations.For(ReferenceA)));
    }
}
