namespace FairNad.Build.Engine;

/// <summary>A normalised absolute file-system path; <c>root / "src" / "x.csproj"</c> combines segments.</summary>
public sealed class AbsolutePath : IEquatable<AbsolutePath>
{
    private readonly string _path;

    private AbsolutePath(string path) => _path = path;

    public static AbsolutePath Create(string path)
    {
        if (!Path.IsPathRooted(path))
        {
            throw new ArgumentException($"'{path}' is not an absolute path", nameof(path));
        }

        var full = Path.GetFullPath(path);
        return new AbsolutePath(full.Length > 1 ? full.TrimEnd(Path.DirectorySeparatorChar) : full);
    }

    public AbsolutePath Parent => Create(Path.GetDirectoryName(_path) ?? _path);

    public string Name => Path.GetFileName(_path);

    public static AbsolutePath operator /(AbsolutePath left, string right) => Create(Path.Combine(left._path, right));

    public static implicit operator string(AbsolutePath path) => path._path;

    public bool Exists() => File.Exists(_path) || Directory.Exists(_path);

    public string GetRelativePathTo(AbsolutePath other) => Path.GetRelativePath(_path, other._path);

    public override string ToString() => _path;

    public bool Equals(AbsolutePath? other) => other is not null && string.Equals(_path, other._path, StringComparison.Ordinal);

    public override bool Equals(object? obj) => Equals(obj as AbsolutePath);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(_path);
}
