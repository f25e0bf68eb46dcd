//! `wsd-chart DATA.tsv OUT.svg TITLE`: the grouped bar chart of `cargo xtask bench`.
//!
//! `DATA.tsv` is written by the bench: a header line `workload<TAB>peer...`, then one
//! line per workload with the ratio wsd-tokio / that peer (`-` where the peer failed).
//! Each workload becomes a group of bars, one per peer, with a line at 1 (above it
//! wsd is faster), on a log scale.

#![forbid(unsafe_code)]

use plotters::prelude::*;

/// One workload: its name and the ratio against each peer.
struct Row {
    name: String,
    ratios: Vec<Option<f64>>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output, title] = args.as_slice() else {
        eprintln!("usage: wsd-chart DATA.tsv OUT.svg TITLE");
        std::process::exit(2);
    };
    if let Err(error) = run(input, output, title) {
        eprintln!("wsd-chart: {error}");
        std::process::exit(1);
    }
}

fn run(input: &str, output: &str, title: &str) -> Result<(), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(input).map_err(|e| format!("reading {input}: {e}"))?;
    let (peers, rows) = parse(&text)?;
    draw(&peers, &rows, output, title)
}

fn parse(text: &str) -> Result<(Vec<String>, Vec<Row>), String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or("no header line")?;
    let peers: Vec<String> = header.split('\t').skip(1).map(str::to_owned).collect();
    let rows: Vec<Row> = lines
        .map(|line| {
            let mut fields = line.split('\t');
            let name = fields.next().unwrap_or_default().to_owned();
            let ratios = fields
                .map(|f| f.parse().ok().filter(|r: &f64| r.is_finite()))
                .collect();
            Row { name, ratios }
        })
        .collect();
    if peers.is_empty() || rows.is_empty() {
        return Err("no peers or no workloads".into());
    }
    Ok((peers, rows))
}

fn draw(
    peers: &[String],
    rows: &[Row],
    output: &str,
    title: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let ratios = || rows.iter().flat_map(|r| r.ratios.iter().flatten().copied());
    // A log scale: 2x faster and 2x slower are as far from 1, and one outlier (a
    // peer that pipelines badly) does not flatten the rest.
    let top = ratios().fold(1.0_f64, f64::max) * 1.25;
    let bottom = ratios().fold(1.0_f64, f64::min).min(0.5) * 0.8;
    let width = 120 + 150 * rows.len() as u32;
    let root = SVGBackend::new(output, (width, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let groups = rows.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..groups, (bottom..top).log_scale())?;
    // Key points every half group: the workload's name at each group's middle.
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(2 * rows.len() + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            let middle = (x - x.floor() - 0.5).abs() < 1e-6;
            match rows.get(i) {
                Some(row) if middle => row.name.clone(),
                _ => String::new(),
            }
        })
        .x_label_style(("sans-serif", 12))
        .y_desc("wsd-tokio / peer (msgs/s, log scale)")
        .draw()?;
    let width_per_bar = 0.8 / peers.len() as f64;
    for (p, peer) in peers.iter().enumerate() {
        let color = Palette99::pick(p).to_rgba();
        let bars = rows.iter().enumerate().filter_map(|(i, row)| {
            let ratio = (*row.ratios.get(p)?)?;
            let x = i as f64 + 0.1 + p as f64 * width_per_bar;
            Some(Rectangle::new(
                [(x, bottom), (x + width_per_bar * 0.9, ratio)],
                color.filled(),
            ))
        });
        chart
            .draw_series(bars)?
            .label(peer.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, 1.0), (groups, 1.0)],
        BLACK.stroke_width(1),
    )))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()
        .map_err(|e| format!("writing {output}: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parse_reads_peers_workloads_and_missing_ratios() {
        let (peers, rows) =
            parse("workload\ta\tb\n16 B single\t1.5\t-\n1 MiB\t0.9\t1.1\n").unwrap();
        assert_eq!(peers, ["a", "b"]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name, "16 B single");
        assert_eq!(rows[0].ratios, [Some(1.5), None]);
        assert_eq!(rows[1].ratios, [Some(0.9), Some(1.1)]);
        assert!(parse("workload\ta\n").is_err());
    }
}
