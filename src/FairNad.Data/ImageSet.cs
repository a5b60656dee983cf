namespace FairNad.Data;

/// <summary>A file is not in the format it claims; the message names the file and what is wrong.</summary>
public sealed class DataFormatException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Images as unsigned bytes, each sample stored as C planes of H x W (row-major), with labels 0..Classes-1.
/// Plain data: the evaluation layer normalises and converts it to tensors.
/// </summary>
public sealed record ImageSet(string Name, int Channels, int Height, int Width, int Classes, byte[] Pixels, int[] Labels)
{
    public int Count => Labels.Length;

    public int SampleSize => Channels * Height * Width;

    public ReadOnlySpan<byte> Sample(int index) => Pixels.AsSpan(index * SampleSize, SampleSize);

    /// <summary>The samples at <paramref name="indices"/>, in that order.</summary>
    public ImageSet Select(IReadOnlyList<int> indices, string name)
    {
        var pixels = new byte[indices.Count * SampleSize];
        var labels = new int[indices.Count];
        for (var i = 0; i < indices.Count; i++)
        {
            Sample(indices[i]).CopyTo(pixels.AsSpan(i * SampleSize));
            labels[i] = Labels[indices[i]];
        }

        return this with { Name = name, Pixels = pixels, Labels = labels };
    }

    /// <summary>Samples per class.</summary>
    public int[] ClassCounts()
    {
        var counts = new int[Classes];
        foreach (var label in Labels)
        {
            counts[label]++;
        }

        return counts;
    }

    /// <summary>Concatenates sets of one shape.</summary>
    public static ImageSet Concat(string name, IReadOnlyList<ImageSet> parts)
    {
        var first = parts[0];
        if (parts.Any(p => p.Channels != first.Channels || p.Height != first.Height || p.Width != first.Width))
        {
            throw new DataFormatException($"{name}: parts differ in image shape");
        }

        return first with
        {
            Name = name,
            Classes = parts.Max(p => p.Classes),
            Pixels = parts.SelectMany(p => p.Pixels).ToArray(),
            Labels = parts.SelectMany(p => p.Labels).ToArray(),
        };
    }
}

/// <summary>Train / validation / test sets of a dataset, where they came from, and how the splits were made.</summary>
public sealed record DatasetSplits(string Dataset, ImageSet Train, ImageSet Validation, ImageSet Test, string Source, string SplitRule);

/// <summary>Deterministic, class-stratified splits (seeded; the same seed gives the same indices on every machine).</summary>
public static class Splits
{
    /// <summary>
    /// Splits each class's samples in a seeded shuffle: the first <paramref name="fraction"/> go to the second set.
    /// Class proportions are kept (rounded per class).
    /// </summary>
    public static (ImageSet Kept, ImageSet Held) Stratified(ImageSet set, double fraction, int seed, string restName, string heldName)
    {
        var (rest, held) = StratifiedIndices(set.Labels, set.Classes, fraction, seed);
        return (set.Select(rest, restName), set.Select(held, heldName));
    }

    /// <summary>A class-stratified subset with <paramref name="perClass"/> samples of each class, in a seeded order.</summary>
    public static ImageSet PerClass(ImageSet set, int perClass, int seed, string name)
    {
        var order = Permutation(set.Count, seed);
        var taken = new int[set.Classes];
        var chosen = new List<int>();
        foreach (var index in order)
        {
            if (taken[set.Labels[index]] < perClass)
            {
                taken[set.Labels[index]]++;
                chosen.Add(index);
            }
        }

        if (taken.Any(t => t < perClass))
        {
            throw new DataFormatException($"{set.Name}: fewer than {perClass} samples in some class");
        }

        chosen.Sort();
        return set.Select(chosen, name);
    }

    internal static (List<int> Kept, List<int> Held) StratifiedIndices(int[] labels, int classes, double fraction, int seed)
    {
        var order = Permutation(labels.Length, seed);
        var byClass = Enumerable.Range(0, classes).Select(_ => new List<int>()).ToArray();
        foreach (var index in order)
        {
            byClass[labels[index]].Add(index);
        }

        var rest = new List<int>();
        var held = new List<int>();
        foreach (var members in byClass)
        {
            var cut = (int)Math.Round(members.Count * fraction, MidpointRounding.AwayFromZero);
            held.AddRange(members.Take(cut));
            rest.AddRange(members.Skip(cut));
        }

        rest.Sort();
        held.Sort();
        return (rest, held);
    }

    /// <summary>A Fisher-Yates permutation driven by an explicitly seeded generator.</summary>
    public static int[] Permutation(int count, int seed)
    {
        var random = new Random(seed);
        var order = Enumerable.Range(0, count).ToArray();
        for (var i = count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        return order;
    }
}

/// <summary>Checks that a path is what a reader expects before it reads, so a directory in a file's place is named as such.</summary>
internal static class DataPaths
{
    /// <exception cref="DataFormatException">the path is a directory or does not exist; the message names it and <paramref name="what"/> was expected.</exception>
    public static void RequireFile(string path, string what)
    {
        if (Directory.Exists(path))
        {
            throw new DataFormatException($"{path} is a directory; expected {what} there");
        }

        if (!File.Exists(path))
        {
            throw new DataFormatException($"{path} does not exist; expected {what} there");
        }
    }
}
