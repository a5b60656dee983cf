using System.Globalization;
using FairNad.Architecture;
using FairNad.Architecture.Transforms;

namespace FairNad.Knowledge;

/// <summary>How many attributes of a tree have at least one realisation, of how many.</summary>
public sealed record RealisedShare(int Realised, int Attributes)
{
    public double Fraction => Attributes == 0 ? 0 : (double)Realised / Attributes;

    public static RealisedShare Of(AttributeTree tree)
    {
        var all = tree.Attributes.Select(x => x.Attribute).ToList();
        return new RealisedShare(all.Count(a => a.Realisations.Count > 0), all.Count);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Realised}/{Attributes} ({100 * Fraction:0.0}%)");
}

/// <summary>
/// Archived LLM-written operators as realisations of the tree: an operator a mutation introduced for an attribute becomes
/// <c>custom_operator(source=sha256:...)</c> of that attribute (<see cref="SpecTransforms.CustomOperatorTransform"/>), so
/// fair idea sampling and Pareto-aware mutation can apply it to other parents, and attributes that had no realisation
/// gain one during the search. The tree on disk never changes; the run's tree in memory does.
/// </summary>
public static class OperatorRealisations
{
    /// <summary>The realisation that applies the operator <paramref name="reference"/>.</summary>
    public static Realisation For(string reference) =>
        new(SpecTransforms.CustomOperatorTransform, new SortedDictionary<string, ParamValue>(StringComparer.Ordinal) { ["source"] = reference });

    /// <summary>
    /// <paramref name="tree"/> with <paramref name="realisation"/> appended to attribute <paramref name="attributeId"/>;
    /// the same tree when the attribute already has it or is not in the tree (an operator written for an attribute of
    /// another tree realises nothing here).
    /// </summary>
    public static AttributeTree WithRealisation(this AttributeTree tree, string attributeId, Realisation realisation)
    {
        var attribute = tree.Find(attributeId);
        if (attribute is null || attribute.Realisations.Any(r => r.ToString() == realisation.ToString()))
        {
            return tree;
        }

        return tree with
        {
            Granularities = tree.Granularities.Select(g => g with
            {
                Categories = g.Categories.Select(c => c with
                {
                    Attributes = c.Attributes.Select(a => a.Id == attributeId ? a with { Realisations = [.. a.Realisations, realisation] } : a).ToList(),
                }).ToList(),
            }).ToList(),
        };
    }

    /// <summary>The tree with every entry's operator as a realisation of its attribute, in the order of the entries' references.</summary>
    public static AttributeTree WithOperators(this AttributeTree tree, IEnumerable<OperatorEntry> entries) =>
        entries.OrderBy(e => e.Reference, StringComparer.Ordinal).Aggregate(tree, (t, e) => t.WithRealisation(e.Attribute, For(e.Reference)));
}
