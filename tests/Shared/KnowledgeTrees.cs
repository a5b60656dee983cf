using FairNad.Knowledge;

namespace FairNad.Tests.Shared;

/// <summary>Curated trees edited the way a content-blind extraction can leave them, for the tree checks and `knowledge validate`.</summary>
internal static class KnowledgeTrees
{
    /// <summary>
    /// The curated tree plus a copy of its first attribute under a new id in the same category (a repeated name) and the
    /// isotropic attribute filed under depth-width too (a name in two main categories). Still valid: ids stay unique.
    /// </summary>
    public static AttributeTree WithRepeatedAndCrossCategoryNames()
    {
        var tree = AttributeTree.Default();
        var isotropic = tree.Find("network.hierarchy.isotropic")!;
        var first = tree.Granularities[0].Categories[0].Attributes[0];
        return tree with
        {
            Granularities = tree.Granularities.Select(g => g with
            {
                Categories = g.Categories.Select(c => c.Id switch
                {
                    "operator.feature-extraction" => c with { Attributes = [.. c.Attributes, first with { Id = "operator.feature-extraction.copy" }] },
                    "network.depth-width" => c with { Attributes = [.. c.Attributes, isotropic with { Id = "network.depth-width.isotropic" }] },
                    _ => c,
                }).ToList(),
            }).ToList(),
        };
    }
}
