fn main() {
    println!("easd {}", env!("CARGO_PKG_VERSION"));
}
